"""What-if: one order, a bracket as its worst outcome, netting with positions."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from ibterm.risk.portfolio import Row
from ibterm.risk.whatif import FiguresMemo, figures, net, what_if
from tests.risk.test_margin import AS_OF, opt, stk


def test_a_naked_put_adds_its_requirement() -> None:
    result = what_if([stk(2, 100, 100)], [[opt(9, "P", 45, -1, 0.50, 47.5)]], 100_000, AS_OF,
                     0.04)
    assert result.initial_change == pytest.approx(750)
    assert result.excess(result.after) == pytest.approx(100_000 - 2_500 - 750)
    assert not result.margin_call and result.after.worst_loss > result.before.worst_loss


def test_selling_stock_held_nets_it_away() -> None:
    rows = net([stk(2, 100, 100)], [stk(9, -100, 100)])
    assert rows == []
    result = what_if([stk(2, 100, 100)], [[stk(9, -100, 100)]], 50_000, AS_OF, 0.04)
    assert result.after.initial == 0 and result.initial_change == pytest.approx(-5_000)


def test_a_bracket_counts_its_worst_outcome_not_its_legs() -> None:
    entry = stk(9, 100, 100)
    take, stop = stk(10, -100, 101.5), stk(11, -100, 99.25)
    result = what_if([], [[entry], [entry, take], [entry, stop]], 10_000, AS_OF, 0.04)
    assert result.after.initial == pytest.approx(5_000)  # the entry alone
    assert result.margin_call is False


def test_a_margin_call_is_seen() -> None:
    result = what_if([], [[opt(9, "C", 100, -50, 3.0, 100, expiry=dt.date(2027, 1, 15))]],
                     10_000, AS_OF, 0.04)
    assert result.margin_call


def _book(seed: int, n: int) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        symbol = rng.choice(["AAA", "BBB", "CCC", "SPX"])
        cls = "broad_index" if symbol == "SPX" else "equity"
        if rng.random() < 0.15:
            rows.append(replace(stk(i + 2, rng.choice([-300, 100, 200]), 100, symbol),
                                index_class=cls))
            continue
        rows.append(opt(i + 2, rng.choice("CP"), rng.choice([90, 95, 100, 105, 110]),
                        rng.choice([-3, -1, 1, 2]), round(rng.uniform(0.5, 12), 2), 100,
                        symbol, rng.choice([dt.date(2027, 1, 15), dt.date(2027, 3, 19)]), cls))
    return rows


def test_the_memo_changes_no_figure() -> None:
    # The preview's path (figures remembered per underlying) against a full recomputation,
    # order after order on the same book: equal to the last digit.
    rows = _book(3, 60)
    memo = FiguresMemo()
    assert figures(rows, AS_OF, 0.04, memo=memo) == figures(rows, AS_OF, 0.04)
    rng = random.Random(4)
    for i in range(25):
        symbol = rng.choice(["AAA", "BBB", "SPX", "DDD"])
        legs = [opt(900 + i * 4 + j, rng.choice("CP"), rng.choice([95, 100, 105]),
                    rng.choice([-2, -1, 1]), 2.0, 100, symbol) for j in range(rng.choice([1, 4]))]
        fast = what_if(rows, [legs], 1e6, AS_OF, 0.04, memo=memo)
        assert fast == what_if(rows, [legs], 1e6, AS_OF, 0.04)
