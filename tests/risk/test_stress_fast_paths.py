"""The stress path's shortcuts against the path as it was (stress_reference.py): every
figure the same, to the cent and in the same order, on books that take each shortcut and
on books that must not (futures options, dividend yields, missing iv, stock rows, mixed
index classes, rows grouped or not, several scans, absolute vol shifts); and the grid's
rounding against Python's round, halves included."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import StressParams, _rounded, positions, stress
from tests.risk import stress_reference as reference

AS_OF = dt.date(2026, 11, 27)
RATE = 0.04
_SPOTS = {"AAA": 57.0, "BBB": 230.0, "SPX": 5900.0, "RUT": 2300.0, "ES": 5900.0}
_CLASS = {"SPX": "broad_index", "RUT": "small_cap_index"}


def _opt(line: int, symbol: str, right: str, strike: float, qty: float, iv: float | None,
         days: int, *, index_class: str | None = None, sec_type: str = "OPT",
         div: float = 0.0, price_vol: float = 0.3) -> Row:
    spot = _SPOTS[symbol]
    carry = RATE if sec_type == "FOP" else div
    price = bsm_price(spot, strike, days / 365, price_vol, RATE, right == "C", carry)
    return Row(line, symbol, sec_type, right, strike, AS_OF + dt.timedelta(days=days),
               50.0 if sec_type == "FOP" else 100.0, qty, round(price, 4), spot, iv, "",
               div, index_class or _CLASS.get(symbol, "equity"))


def _linear(line: int, symbol: str, qty: float, sec_type: str = "STK",
            index_class: str | None = None) -> Row:
    spot = _SPOTS[symbol]
    expiry = None if sec_type == "STK" else AS_OF + dt.timedelta(days=90)
    return Row(line, symbol, sec_type, "", 0.0, expiry, 1.0 if sec_type == "STK" else 50.0,
               qty, spot, spot, None, "", 0.0, index_class or _CLASS.get(symbol, "equity"))


def _same(rows: list[Row], params: StressParams | None = None) -> None:
    try:
        old = reference.positions(rows, AS_OF, RATE)
    except reference.PortfolioErrors as exc:  # (an iv nobody can imply: the same lines)
        with pytest.raises(reference.PortfolioErrors) as raised:
            positions(rows, AS_OF, RATE)
        assert raised.value.lines == exc.lines
        return
    new = positions(rows, AS_OF, RATE)
    assert new.underlying == old.underlying and new.index_class == old.index_class
    for name in ("option", "spot", "strike", "years", "carry", "is_call", "rate", "vol"):
        assert np.array_equal(getattr(new, name), getattr(old, name), equal_nan=True), name
    assert np.array_equal(new.weight, old.qty * old.mult)
    for view in (True, False):
        expected = reference.stress(old, params, view)
        assert stress(new, params, view) == expected
        assert [c["underlying"] for c in expected.grid] == \
            [c["underlying"] for c in stress(new, params, view).grid]


def _book(n: int, seed: int, symbols: tuple[str, ...] = ("AAA", "BBB")) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        s = rng.choice(symbols)
        rows.append(_opt(i + 2, s, rng.choice("CP"), round(_SPOTS[s] * rng.uniform(0.8, 1.2)),
                         rng.choice([-3, -1, 1, 2]), rng.uniform(0.15, 0.6),
                         rng.choice([14, 35, 126])))
    return rows


def test_the_usual_book_unsorted_and_grouped() -> None:
    rows = _book(3000, 1)  # more than a pricing chunk: groups cross the chunks' edge
    _same(rows)
    _same(sorted(rows, key=lambda r: r.symbol))


def test_many_underlyings_sorted_by_16_bit_codes() -> None:
    names = [f"U{i}" for i in range(300)]
    _SPOTS.update(dict.fromkeys(names, 100.0))
    rng = random.Random(3)
    rows = [_opt(i + 2, rng.choice(names), rng.choice("CP"), rng.choice([90.0, 100.0, 110.0]),
                 rng.choice([-1, 2]), 0.3, 30) for i in range(1500)]
    _same(rows)


def test_futures_options_dividends_missing_iv_and_linear_rows() -> None:
    rows = _book(40, 2)
    rows += [_opt(100, "ES", "C", 6000.0, -2, 0.2, 60, sec_type="FOP"),
             _opt(101, "ES", "P", 5700.0, 3, None, 60, sec_type="FOP", price_vol=0.25),
             _opt(102, "AAA", "P", 55.0, 4, 0.3, 90, div=0.02),
             _opt(103, "BBB", "C", 240.0, -1, None, 45, div=0.01, price_vol=0.35),
             _linear(104, "AAA", 300), _linear(105, "ES", -2, "FUT")]
    _same(rows)
    _same(rows[40:])  # no equity book around them


def test_only_stock_and_futures() -> None:
    _same([_linear(2, "AAA", 100), _linear(3, "BBB", -50), _linear(4, "ES", 1, "FUT")])


def test_one_row_and_a_grouped_book_of_one_underlying() -> None:
    _same(_book(1, 4))
    _same(_book(50, 5, ("AAA",)))


def test_mixed_classes_several_scans_and_the_correlated_view() -> None:
    rows = _book(60, 6, ("AAA", "BBB", "SPX", "RUT"))
    # An underlying whose rows disagree on the class (the first row's decides the scan),
    # and one eligible row among ineligible ones.
    rows += [_opt(200, "AAA", "C", 60.0, 1, 0.3, 30, index_class="narrow_index"),
             _opt(201, "BBB", "P", 220.0, -2, 0.3, 30, index_class="broad_index")]
    _same(rows)
    _same(rows, StressParams(correlated_classes=("equity",)))
    _same(rows, StressParams(correlated_classes=()))


def test_absolute_vol_shifts_and_shifts_without_zero() -> None:
    rows = [*_book(80, 7), _linear(300, "AAA", 100)]
    _same(rows, StressParams(vol_shift_mode="absolute", vol_shifts=(-0.5, 0.1)))
    _same(rows, StressParams(vol_shifts=(-0.2, 0.2)))
    _same(rows, StressParams(points_each_side=2, vol_shifts=(0.0,)))


def test_expiring_options_are_intrinsic() -> None:
    rows = [*_book(20, 8), _opt(400, "AAA", "C", 50.0, 1, 0.3, 0),
            _opt(401, "BBB", "P", 250.0, -1, 0.3, 0)]
    _same(rows)


_spec = st.tuples(st.sampled_from(["AAA", "BBB", "SPX", "RUT", "ES"]),
                  st.sampled_from(["C", "P", "S"]), st.floats(0.7, 1.3),
                  st.sampled_from([-5.0, -1.0, 1.0, 3.0]), st.floats(0.08, 1.2),
                  st.sampled_from([0, 3, 30, 200]), st.booleans(), st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(_spec, min_size=1, max_size=30), st.booleans())
def test_random_books_are_the_reference(spec: list[tuple], grouped: bool) -> None:  # type: ignore[type-arg]
    rows = []
    for i, (symbol, kind, k, qty, iv, days, odd, fop) in enumerate(spec):
        if kind == "S":
            rows.append(_linear(i + 2, symbol, qty * 100, "FUT" if symbol == "ES" else "STK"))
        else:
            rows.append(_opt(i + 2, symbol, kind, round(_SPOTS[symbol] * k, 1), qty,
                             None if odd and days else iv, days,
                             sec_type="FOP" if fop or symbol == "ES" else "OPT",
                             div=0.01 if odd and not fop else 0.0,
                             index_class="narrow_index" if odd and kind == "C" else None))
    if grouped:
        rows.sort(key=lambda r: r.symbol)
    _same(rows)


def test_the_grid_rounds_as_python_does() -> None:
    rng = np.random.default_rng(9)
    halves = np.array([0.125, 0.375, 1.005, 2.675, 1.115, -0.125, -2.675, 0.005, -0.005,
                       1e9, -3e12, 5e-3, 0.0, -0.0, 0.0049999999999999, 12345.675])
    cents = np.round(rng.uniform(-1e6, 1e6, 5000), 2) + 0.005  # x.xx5: on a half or near
    values = np.concatenate([halves, cents, rng.normal(0, 1e5, 20000),
                             rng.uniform(-1, 1, 5000)]).reshape(-1, 2)
    got = _rounded(values)
    want = [[round(float(x), 2) for x in row] for row in values]
    assert got == want
    assert [str(x) for row in got for x in row] == [str(x) for row in want for x in row]


def test_a_missing_iv_nobody_can_imply_is_still_an_error() -> None:
    bad = Row(2, "AAA", "OPT", "C", 50.0, AS_OF + dt.timedelta(days=30), 100.0, 1.0, 0.0001,
              57.0, None, "", 0.0, "equity")
    with pytest.raises(reference.PortfolioErrors):
        reference.positions([bad], AS_OF, RATE)
    with pytest.raises(reference.PortfolioErrors):
        positions([bad], AS_OF, RATE)
