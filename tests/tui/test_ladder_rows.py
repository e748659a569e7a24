"""The ladder's rows and words without the app: prices on the tick grid, the book or the
quote's touch, the trader's orders where they trigger, a move a tick at a time, and the
title that never passes a refused, stopped or quiet book off as live."""

from __future__ import annotations

from ibterm.domain.depth import DepthBook, DepthLevel, FeedState
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.ladder import ladder_rows, order_price, tick_index, touch_index
from ibterm.domain.orders import OrderSpec, OrderType, OrderUpdate, Side, TimeInForce
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.tui.widgets.depth_screen import book_title, moved

ES = Instrument(1, "ES", SecType.FUT, "CME", "USD", 50.0, 0.25, contract_month="202612")
QUOTE = Quote(1, MarketDataType.LIVE, 0.0, bid=6010.0, ask=6010.25, last=6010.25,
              bid_size=12, ask_size=7)
BOOK = DepthBook(1, (DepthLevel(6010.0, 12), DepthLevel(6009.75, 30)),
                 (DepthLevel(6010.25, 7), DepthLevel(6010.5, 3)), FeedState.LIVE, "", 100.0)


def _order(ref: str, side: Side, kind: OrderType, limit: float | None, stop: float | None,
           remaining: float = 2) -> OrderUpdate:
    return OrderUpdate(ref, "i", ES, side, remaining, kind, limit, stop, "Submitted", 0,
                       remaining, 0.0)


def test_rows_are_a_tick_apart_with_the_books_sizes_and_my_orders() -> None:
    top = tick_index(6011.0, 0.25)
    working = [_order("a", Side.BUY, OrderType.LMT, 6009.75, None),
               _order("b", Side.BUY, OrderType.LMT, 6009.75, None, remaining=1),
               _order("c", Side.SELL, OrderType.STP_LMT, 6009.0, 6009.5),
               _order("d", Side.SELL, OrderType.MKT, None, None)]
    rows = ladder_rows(top, 8, 0.25, BOOK, QUOTE, working, 1)
    assert [r.price for r in rows] == [6011.0, 6010.75, 6010.5, 6010.25, 6010.0, 6009.75,
                                       6009.5, 6009.25]
    by_price = {r.price: r for r in rows}
    assert (by_price[6010.25].ask_size, by_price[6010.0].bid_size) == (7, 12)
    assert by_price[6010.25].last and not by_price[6010.0].last
    assert by_price[6009.75].buys == 3 and by_price[6009.75].orders == ("a", "b")
    assert by_price[6009.5].sells == 2  # a stop limit sits where it triggers
    assert order_price(working[3]) is None
    assert touch_index(BOOK, QUOTE, 0.25) == tick_index(6010.0, 0.25)


def test_without_a_live_book_the_quotes_touch_stands_in_and_a_flagged_one_does_not() -> None:
    refused = DepthBook(1, state=FeedState.REFUSED, detail="IB 354: not subscribed")
    rows = ladder_rows(tick_index(6010.5, 0.25), 4, 0.25, refused, QUOTE, [], 1)
    assert [(r.bid_size, r.ask_size) for r in rows] == [(None, None), (None, 7), (12, None),
                                                        (None, None)]
    bad = Quote(1, MarketDataType.LIVE, 0.0, bid=1.0, ask=9999.0, flag="bad")
    assert not any(r.bid_size or r.ask_size
                   for r in ladder_rows(4000, 4, 0.25, refused, bad, [], 1))
    assert touch_index(refused, bad, 0.25) is None


def test_a_move_is_a_tick_and_a_stop_limit_keeps_its_offset() -> None:
    spec = OrderSpec(ES, Side.BUY, 1, OrderType.STP_LMT, limit=6011.0, stop=6010.5,
                     tif=TimeInForce.GTC, account="DU1")
    up = moved(spec, 1, 0.25)
    assert (up.limit, up.stop, up.tif, up.account) == (6011.25, 6010.75, TimeInForce.GTC, "DU1")
    lmt = moved(OrderSpec(ES, Side.SELL, 1, OrderType.LMT, limit=6010.0), -3, 0.25)
    assert (lmt.limit, lmt.stop) == (6009.25, None)


def test_the_title_says_what_the_depth_is() -> None:
    assert book_title(ES, BOOK, QUOTE, 101.0, 5.0) == "Depth ES 202612 · ● live"
    assert book_title(ES, BOOK, QUOTE, 112.0, 5.0) == \
        "Depth ES 202612 · STALE: no change for 12s"
    stopped = DepthBook(1, state=FeedState.STOPPED, detail="connection lost")
    assert book_title(ES, stopped, QUOTE, 0, 5) == \
        "Depth ES 202612 · ✖ not live: connection lost"
    delayed = Quote(1, MarketDataType.DELAYED, 0.0, bid=1.0, ask=1.25)
    refused = DepthBook(1, state=FeedState.REFUSED, detail="IB 354")
    assert book_title(ES, refused, delayed, 0, 5) == \
        "Depth ES 202612 · quote DELAYED · ✖ depth refused"
