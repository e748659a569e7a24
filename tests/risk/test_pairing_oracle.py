"""The fast pairing against the pairing it replaced (pairing_reference.py): on random
books, the same strategies with the same legs and figures, in the same order, unless
the search over long options left out (margin._LEAVE_OUT_LONGS) found a grouping that
costs less."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibterm.risk import margin
from ibterm.risk.margin import Rates
from ibterm.risk.portfolio import Row
from ibterm.risk.strategy import Strategy
from tests.risk import pairing_reference

EXPIRIES = (dt.date(2027, 1, 15), dt.date(2027, 2, 19), dt.date(2027, 3, 19))


def _row(line: int, right: str, strike: float, qty: float, price: float, expiry: dt.date,
         multiplier: float = 100.0, spot: float = 100.0) -> Row:
    if not right:
        return Row(line, "XYZ", "STK", "", 0.0, None, 1.0, qty, spot, spot, None, "", 0.0,
                   "equity")
    return Row(line, "XYZ", "OPT", right, strike, expiry, multiplier, qty, price, spot, 0.3,
               "", 0.0, "equity")


def _same(rows: list[Row], rates: Rates | None = None) -> bool:
    """Whether the pairing is the reference's; if not, it must cost less (initial, then
    maintenance). Every leg placed exactly once either way."""
    rates = rates or Rates()
    fast = margin._best_grouping("XYZ", "", rows, rates)
    slow = pairing_reference.best_grouping("XYZ", "", rows, rates)
    placed: dict[int, float] = {}
    for s in fast:
        for line, qty in s.legs:
            placed[line] = placed.get(line, 0.0) + qty
    assert placed == pytest.approx({r.line: r.quantity for r in rows})
    if fast == slow:
        return True

    def cost(found: list[Strategy]) -> tuple[float, float]:
        return (round(sum(s.initial for s in found), 6),
                round(sum(s.maintenance for s in found), 6))

    assert cost(fast) < cost(slow)
    return False


_leg = st.tuples(st.sampled_from(["C", "P", "C", "P", ""]),
                 st.sampled_from([80, 85, 90, 95, 100, 105, 110, 115, 120]),
                 st.integers(-4, 4).filter(bool), st.sampled_from([0.05, 0.5, 1.0, 2.5, 6.0]),
                 st.sampled_from(EXPIRIES), st.sampled_from([100.0, 100.0, 100.0, 10.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_leg, min_size=1, max_size=24), st.sampled_from([95.0, 100.0, 104.0]))
def test_the_same_strategies_on_random_books(legs: list[tuple[str, int, int, float,
                                                               dt.date, float]],
                                             spot: float) -> None:
    rows = [_row(i + 2, r, k, q * (100 if not r else 1), p, e, m, spot)
            for i, (r, k, q, p, e, m) in enumerate(legs)]
    _same(rows)


@settings(max_examples=30, deadline=None)
@given(st.lists(_leg, min_size=25, max_size=40), st.sampled_from([95.0, 100.0, 104.0]))
def test_the_same_strategies_on_larger_random_books(legs: list[tuple[str, int, int, float,
                                                                     dt.date, float]],
                                                    spot: float) -> None:
    # Often more long options than the search takes: walks given up early (margin._group's
    # bound) must never lose a cheaper grouping.
    _same([_row(i + 2, r, k, q * (100 if not r else 1), p, e, m, spot)
           for i, (r, k, q, p, e, m) in enumerate(legs)])


def test_many_joins_priced_at_once_are_priced_as_one_at_a_time() -> None:
    rng = random.Random(3)
    tried = []
    for i in range(200):
        spreads = []
        for _ in range(2):
            right = rng.choice("CP")
            k_short, k_long = rng.sample([80.0, 85.0, 90.0, 95.0, 100.0, 105.0, 110.0], 2)
            short = margin._Leg(_row(2, right, k_short, -1.0, 1.0, EXPIRIES[0]), Rates())
            long = margin._Leg(_row(3, right, k_long, 1.0, 1.0, EXPIRIES[0]), Rates())
            width = (k_long - k_short) if right == "C" else (k_short - k_long)
            spreads.append(margin._Spread(short, long, 1.0, max(width, 0.0) * 100.0))
        tried.append((i, i + 1, spreads[0], spreads[1], 100.0))
    assert len(tried) >= margin._VECTOR_PAIRS
    assert margin._joined_all(tried) == [margin._joined(a, b, m) for _i, _j, a, b, m in tried]


def test_the_same_strategies_on_dense_books() -> None:
    # Hundreds of legs on one underlying: every window (nearest longs, puts, spreads) full.
    rng = random.Random(7)
    for n in (300, 1_200):
        rows = []
        for i in range(n):
            right = rng.choice("CP")
            expiry = rng.choice(EXPIRIES)
            rows.append(_row(i + 2, right, float(round(rng.uniform(80, 120))),
                             float(rng.choice([-5, -3, -1, 1, 2, 4])),
                             round(rng.uniform(0.05, 12), 2), expiry))
        rows.append(_row(n + 2, "", 0.0, 700.0, 0.0, EXPIRIES[0]))
        rows.append(_row(n + 3, "", 0.0, -300.0, 0.0, EXPIRIES[0], spot=99.0))
        # Too many longs placed for the search: exactly the reference's pairing.
        assert _same(rows)
