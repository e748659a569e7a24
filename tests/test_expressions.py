"""The macro price-expression grammar."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibterm.domain.expressions import ExpressionError, evaluate, parse_price
from ibterm.domain.orders import Side
from ibterm.domain.quote import MarketDataType, Quote

LIVE = Quote(1, MarketDataType.LIVE, 100.0, bid=230.00, ask=230.04, last=230.02)


@pytest.mark.parametrize(("text", "side", "price"), [
    ("ask", Side.BUY, 230.04),
    ("ask + 1 tick", Side.BUY, 230.05),
    ("bid - 0.05", Side.SELL, 229.95),
    ("mid", Side.BUY, 230.02),
    ("last + 0.5%", Side.SELL, 231.18),  # 231.1701 rounded up for a sell
    ("last + 0.5%", Side.BUY, 231.17),
    ("BID + 2t - 1t", Side.BUY, 230.01),
    ("229.999", Side.BUY, 229.99),
])
def test_prices(text: str, side: Side, price: float) -> None:
    assert evaluate(parse_price(text), side, 0.01, LIVE, now=100.0, stale_after=10) == price


def test_offsets_from_an_entry() -> None:
    assert evaluate(parse_price("+1.5%"), Side.SELL, 0.01, entry=200.0) == 203.0
    assert evaluate(parse_price("-20 ticks"), Side.SELL, 0.25, entry=6000.0) == 5995.0
    with pytest.raises(ExpressionError, match="entry"):
        evaluate(parse_price("+1%"), Side.BUY, 0.01, LIVE)


@pytest.mark.parametrize(("text", "column"), [
    ("ask +", 5), ("bidd", 4), ("ask * 2", 5), ("1 tick", 3), ("", 1), ("ask + 1 pips", 9),
])
def test_errors_have_a_column(text: str, column: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_price(text)
    assert info.value.column == column


def test_never_prices_from_a_delayed_or_stale_quote() -> None:
    delayed = Quote(1, MarketDataType.DELAYED, 100.0, bid=1.0, ask=1.1)
    with pytest.raises(ExpressionError, match="delayed"):
        evaluate(parse_price("ask"), Side.BUY, 0.01, delayed)
    with pytest.raises(ExpressionError, match="stale"):
        evaluate(parse_price("ask"), Side.BUY, 0.01, LIVE, now=200.0, stale_after=10)


@given(st.text(max_size=30))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    try:
        parse_price(text)
    except ExpressionError as exc:
        assert exc.column >= 1
