"""Bracket offsets and the numbers the builder shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibterm.domain.offsets import Offset, OffsetUnit, bracket_prices, parse_offset
from ibterm.domain.orders import Side


@pytest.mark.parametrize(("text", "offset"), [
    ("1.50", Offset(1.5, OffsetUnit.PRICE)),
    ("+10t", Offset(10, OffsetUnit.TICKS)),
    ("4 ticks", Offset(4, OffsetUnit.TICKS)),
    ("-0.75%", Offset(0.75, OffsetUnit.PERCENT)),
    (".5", Offset(0.5, OffsetUnit.PRICE)),
])
def test_offsets(text: str, offset: Offset) -> None:
    assert parse_offset(text) == offset


@pytest.mark.parametrize("text", ["", "abc", "0", "1.5x", "150%", "--1", "1.2.3"])
def test_bad_offsets(text: str) -> None:
    with pytest.raises(ValueError):
        parse_offset(text)


@given(st.text(max_size=20))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        offset = parse_offset(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert offset.amount > 0


def test_buy_bracket_numbers() -> None:
    p = bracket_prices(Side.BUY, 100.00, 100, 1, 0.01, parse_offset("1.5%"),
                       parse_offset("0.75%"), gap=0.02)
    assert (p.take_profit, p.stop_loss) == (101.5, 99.25)
    assert p.reward == pytest.approx(150) and p.risk == pytest.approx(75)
    assert p.reward_risk == pytest.approx(2.0)
    assert p.gap_loss == pytest.approx(75 + 99.25 * 0.02 * 100)


def test_sell_bracket_rounds_outward_on_the_tick() -> None:
    p = bracket_prices(Side.SELL, 6000.00, 2, 50, 0.25, parse_offset("10t"),
                       parse_offset("0.1"), gap=0.0)
    assert p.take_profit == 5997.5  # 10 ticks below a short entry
    assert p.stop_loss == 6000.25  # 0.10 above, rounded out to the next tick
    assert p.risk == pytest.approx(0.25 * 100)
