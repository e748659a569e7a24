"""The stress grid: the vectorized pass against a plain scalar loop on random books, the
grid's shape, where it must be monotonic, the minimum, the correlated view, parameters."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.portfolio import Row
from ibterm.risk.stress import StressParams, _moves, positions, stress

AS_OF = dt.date(2026, 11, 27)
RATE = 0.04
CDF_ERROR = 7.5e-8  # Abramowitz & Stegun 26.2.17


def _opt(line: int, symbol: str, right: str, strike: float, qty: float, spot: float, iv: float,
         days: int, index_class: str = "equity", sec_type: str = "OPT",
         div: float = 0.0) -> Row:
    expiry = AS_OF + dt.timedelta(days=days)
    years = days / 365
    carry = RATE if sec_type == "FOP" else div
    price = bsm_price(spot, strike, years, iv, RATE, right == "C", carry)
    return Row(line, symbol, sec_type, right, strike, expiry, 100.0, qty, round(price, 4), spot,
               iv, "", div, index_class)


def _stk(line: int, symbol: str, qty: float, price: float,
         index_class: str = "equity") -> Row:
    return Row(line, symbol, "STK", "", 0.0, None, 1.0, qty, price, price, None, "", 0.0,
               index_class)


def scalar_stress(rows: list[Row], params: StressParams) -> tuple[dict, dict, float, dict]:  # type: ignore[type-arg]
    """The definitions of docs/risk.md, one row and one scenario at a time."""
    first: dict[str, str] = {}
    for r in rows:
        first.setdefault(r.symbol, r.index_class)
    shifts = sorted(set(params.vol_shifts))
    grid: dict[tuple[str, float, float], float] = {}
    bound: dict[tuple[str, float, float], float] = {}
    corr: dict[tuple[float, float], float] = {}
    corr_moves = _moves(*params.scans[params.correlated_scan], params.points_each_side)
    minimum: dict[str, float] = {}

    def value(r: Row, spot: float, vol: float) -> float:
        if not r.is_option:
            return spot
        carry = RATE if r.sec_type == "FOP" else r.div_yield
        years = (r.expiry - AS_OF).days / 365  # type: ignore[operator]
        return bsm_price(spot, r.strike, years, vol, RATE, r.right == "C", carry)

    for r in rows:
        w = r.quantity * r.multiplier
        if r.is_option:
            minimum[r.symbol] = minimum.get(r.symbol, 0.0) + abs(w) * params.min_per_contract
        vol = r.iv or 0.0
        now = value(r, r.underlying_price, vol)
        for m in _moves(*params.scans[first[r.symbol]], params.points_each_side):
            for v in shifts:
                s2 = r.underlying_price * (1 + m)
                pnl = (value(r, s2, vol * (1 + v)) - now) * w
                key = (r.symbol, m, v)
                grid[key] = grid.get(key, 0.0) + pnl
                error = 2 * CDF_ERROR * (s2 + r.strike + r.underlying_price + r.strike) \
                    * abs(w) if r.is_option else 1e-9 * abs(pnl)
                bound[key] = bound.get(key, 1e-6) + error
        if r.index_class in params.correlated_classes:
            for m in corr_moves:
                for v in shifts:
                    s2 = r.underlying_price * (1 + m)
                    corr[(m, v)] = corr.get((m, v), 0.0) + (
                        value(r, s2, vol * (1 + v)) - now) * w
    worst = {}
    for (symbol, _m, _v), pnl in grid.items():
        worst[symbol] = max(worst.get(symbol, 0.0), -pnl)
    by = {s: max(loss, minimum.get(s, 0.0)) for s, loss in worst.items()}
    return grid, by, max([0.0, *(-p for p in corr.values())]), bound


_row = st.tuples(
    st.sampled_from(["AAA", "BBB", "SPX", "RUT"]), st.sampled_from(["C", "P", "S"]),
    st.floats(0.7, 1.3), st.sampled_from([-5.0, -2.0, -1.0, 1.0, 3.0]),
    st.floats(0.08, 1.2), st.sampled_from([0, 3, 30, 200, 700]), st.booleans())
_SPOTS = {"AAA": 57.0, "BBB": 230.0, "SPX": 5900.0, "RUT": 2300.0}


@settings(max_examples=40, deadline=None)
@given(st.lists(_row, min_size=1, max_size=25))
def test_the_vectorized_grid_is_the_scalar_loop(spec: list[tuple]) -> None:  # type: ignore[type-arg]
    rows = []
    for i, (symbol, kind, k, qty, iv, days, fop) in enumerate(spec):
        spot = _SPOTS[symbol]
        cls = {"SPX": "broad_index", "RUT": "small_cap_index"}.get(symbol, "equity")
        if kind == "S":
            rows.append(_stk(i + 2, symbol, qty * 100, spot, cls))
        else:
            rows.append(_opt(i + 2, symbol, kind, round(spot * k, 1), qty, spot, iv, days, cls,
                             "FOP" if fop else "OPT", div=0.0 if fop else 0.01))
    params = StressParams()
    result = stress(positions(rows, AS_OF, RATE), params)
    grid, by, corr, bound = scalar_stress(rows, params)
    assert len(result.grid) == len(grid) == 33 * len(by)
    for cell in result.grid:
        key = (cell["underlying"], cell["price_move"], cell["vol_shift"])
        assert cell["pnl"] == pytest.approx(grid[key], abs=bound[key] + 0.006)
    for symbol, loss in by.items():
        worst_bound = max(b for k, b in bound.items() if k[0] == symbol)
        assert result.by_underlying[symbol] == pytest.approx(loss, abs=worst_bound + 0.006)
    assert result.worst_loss == pytest.approx(sum(result.by_underlying.values()), abs=0.01)
    assert result.correlated_worst_loss == pytest.approx(corr, abs=sum(bound.values()) + 0.01)


def test_grid_shape_order_and_the_unshocked_cell() -> None:
    rows = [_stk(2, "BBB", 100, 230), _opt(3, "AAA", "P", 55, -2, 57, 0.3, 30),
            _opt(4, "SPX", "C", 6000, 1, 5900, 0.15, 30, "broad_index")]
    result = stress(positions(rows, AS_OF, RATE))
    keys = [(g["underlying"], g["price_move"], g["vol_shift"]) for g in result.grid]
    assert keys == sorted(keys) and len(keys) == 99
    spx = sorted({g["price_move"] for g in result.grid if g["underlying"] == "SPX"})
    assert spx[0] == -0.08 and spx[-1] == 0.06 and len(spx) == 11
    assert all(g["pnl"] == 0 for g in result.grid if g["price_move"] == g["vol_shift"] == 0)


def test_monotonic_where_it_must_be() -> None:
    long_stock = stress(positions([_stk(2, "AAA", 100, 57)], AS_OF, RATE))
    pnl = [g["pnl"] for g in long_stock.grid if g["vol_shift"] == 0]
    assert pnl == sorted(pnl) and pnl[0] < 0 < pnl[-1]
    assert long_stock.worst_loss == pytest.approx(0.15 * 5700, abs=0.01)
    long_calls = stress(positions([_opt(2, "AAA", "C", 60, 3, 57, 0.3, 60),
                                         _opt(3, "AAA", "P", 50, 2, 57, 0.3, 60)], AS_OF, RATE))
    by_move: dict[float, list[float]] = {}
    for g in long_calls.grid:
        by_move.setdefault(g["price_move"], []).append(g["pnl"])
    for pnl_by_shift in by_move.values():  # long options: vega > 0
        assert pnl_by_shift == sorted(pnl_by_shift)


def test_the_per_contract_minimum_and_its_parameter() -> None:
    # A far out-of-the-money short call barely moves: the minimum decides.
    rows = [_opt(2, "AAA", "C", 120, -4, 57, 0.2, 10)]
    assert stress(positions(rows, AS_OF, RATE)).by_underlying["AAA"] == 150.0
    params = replace(StressParams(), min_per_contract=1.0)
    assert stress(positions(rows, AS_OF, RATE), params).worst_loss == 400.0


def test_the_correlated_view_takes_one_common_move() -> None:
    # Long AAA and short BBB hedge each other only when they move together.
    rows = [_stk(2, "AAA", 1000, 57), _stk(3, "BBB", -248, 230)]
    result = stress(positions(rows, AS_OF, RATE))
    assert result.worst_loss == pytest.approx(0.15 * 57_000 + 0.15 * 248 * 230, abs=0.01)
    assert result.correlated_worst_loss == pytest.approx(0.15 * abs(57_000 - 248 * 230),
                                                         abs=0.01)


def test_vol_shifts_absolute_and_without_zero() -> None:
    rows = [_opt(2, "AAA", "C", 57, 1, 57, 0.3, 60)]
    frame = positions(rows, AS_OF, RATE)
    relative = stress(frame, replace(StressParams(), vol_shifts=(-0.1, 0.1)))
    assert {g["vol_shift"] for g in relative.grid} == {-0.1, 0.1}
    years = 60 / 365
    now = bsm_price(57, 57, years, 0.3, RATE, True)
    cell = next(g for g in relative.grid if g["price_move"] == 0 and g["vol_shift"] == 0.1)
    assert cell["pnl"] == pytest.approx((bsm_price(57, 57, years, 0.33, RATE, True) - now)
                                        * 100, abs=0.01)
    absolute = stress(frame, replace(StressParams(), vol_shifts=(-0.05, 0.0, 0.05),
                                     vol_shift_mode="absolute"))
    cell = next(g for g in absolute.grid if g["price_move"] == 0 and g["vol_shift"] == 0.05)
    assert cell["pnl"] == pytest.approx((bsm_price(57, 57, years, 0.35, RATE, True) - now)
                                        * 100, abs=0.01)
