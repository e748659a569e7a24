"""Reg T margin: every worked example of margin-rules.md, pairing, and its invariants."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row

AS_OF = dt.date(2026, 11, 27)
EXP = dt.date(2027, 1, 15)


def opt(line: int, right: str, strike: float, qty: float, price: float, spot: float,
        symbol: str = "XYZ", expiry: dt.date = EXP, index_class: str = "equity") -> Row:
    return Row(line, symbol, "OPT", right, strike, expiry, 100.0, qty, price, spot, 0.3, "",
               0.0, index_class)


def stk(line: int, qty: float, price: float, symbol: str = "XYZ") -> Row:
    return Row(line, symbol, "STK", "", 0.0, None, 1.0, qty, price, price, None, "", 0.0,
               "equity")


def test_naked_call_and_put() -> None:
    assert compute_margin([opt(2, "C", 68, -1, 1.50, 65)], AS_OF).initial == pytest.approx(1150)
    assert compute_margin([opt(2, "P", 45, -1, 0.50, 47.5)], AS_OF).initial == pytest.approx(750)


def test_credit_vertical_and_iron_condor() -> None:
    spread = compute_margin([opt(2, "C", 100, -1, 1.40, 98), opt(3, "C", 101, 1, 1.05, 98)],
                            AS_OF)
    assert spread.initial == pytest.approx(100) and spread.long_premium == pytest.approx(105)
    condor = compute_margin([opt(2, "P", 160, 10, 0.5, 170, "SPY"),
                             opt(3, "P", 170, -10, 1.5, 170, "SPY"),
                             opt(4, "C", 180, -10, 1.5, 170, "SPY"),
                             opt(5, "C", 190, 10, 0.5, 170, "SPY")], AS_OF)
    assert condor.initial == pytest.approx(10_000)
    assert [s.name for s in condor.strategies] == ["iron condor"]


@pytest.mark.parametrize(("shares", "price", "maintenance"), [
    (1_000, 50, 15_000), (10_000, 5, 50_000), (10_000, 4.50, 45_000), (50_000, 1, 125_000)])
def test_short_stock_maintenance(shares: int, price: float, maintenance: float) -> None:
    assert compute_margin([stk(2, -shares, price)], AS_OF).maintenance == pytest.approx(
        maintenance)


@pytest.mark.parametrize(("shares", "price", "initial"), [(500, 40, 10_000),
                                                          (10_000, 2, 25_000)])
def test_short_stock_initial(shares: int, price: float, initial: float) -> None:
    assert compute_margin([stk(2, -shares, price)], AS_OF).initial == pytest.approx(initial)


def test_covered_call_splits_a_row_and_long_premium_conventions() -> None:
    # 150 shares cover one call; the other 50 are outright.
    result = compute_margin([stk(2, 150, 100), opt(3, "C", 105, -1, 2.0, 100)], AS_OF)
    names = sorted(s.name for s in result.strategies)
    assert names == ["covered call", "long stock"]
    assert result.initial == pytest.approx(150 * 100 * 0.5)
    far = compute_margin([opt(2, "C", 100, 1, 10.0, 100, expiry=dt.date(2028, 1, 21))], AS_OF)
    assert far.initial == 0 and far.long_premium == pytest.approx(750)  # 75% past 9 months


def test_pairing_picks_the_cheaper_grouping() -> None:
    # The short 105 call could be covered (adds 0: out of the money) or spread against the
    # long 110 call (adds 500): covering is cheaper, and the long call stays long.
    rows = [stk(2, 100, 100), opt(3, "C", 105, -1, 2.0, 100), opt(4, "C", 110, 1, 1.0, 100)]
    result = compute_margin(rows, AS_OF)
    assert result.initial == pytest.approx(5_000)


def test_straddle_is_the_larger_requirement_plus_the_other_price() -> None:
    rows = [opt(2, "C", 100, -1, 3.0, 100), opt(3, "P", 100, -1, 2.5, 100)]
    result = compute_margin(rows, AS_OF)
    assert [s.name for s in result.strategies] == ["short straddle"]
    assert result.initial == pytest.approx((3.0 + 20) * 100 + 2.5 * 100)


_legs = st.lists(st.tuples(st.sampled_from("CP"), st.sampled_from([90, 95, 100, 105, 110]),
                           st.integers(-3, 3).filter(bool),
                           st.floats(0.05, 15, allow_nan=False)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(_legs, st.integers(-300, 300))
def test_invariants(legs: list[tuple[str, int, int, float]], shares: int) -> None:
    rows = [opt(i + 2, r, k, q, p, 100) for i, (r, k, q, p) in enumerate(legs)]
    if shares:
        rows.append(stk(len(rows) + 2, shares, 100))
    result = compute_margin(rows, AS_OF)
    assert result.initial >= 0 and result.maintenance >= 0
    # Never more than every leg on its own.
    alone = sum(compute_margin([r], AS_OF).initial for r in rows)
    assert result.initial <= alone + 1e-6
    # Adding a long option never raises the margin.
    extra = opt(99, "C", 120, 1, 0.5, 100)
    assert compute_margin([*rows, extra], AS_OF).initial <= result.initial + 1e-6
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert compute_margin(shuffled, AS_OF).initial == pytest.approx(result.initial)
