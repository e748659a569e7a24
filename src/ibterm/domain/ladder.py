"""The depth ladder's rows: one price a tick apart per row, the book's sizes at each, the
trader's working orders at their prices, and where the touch and the last trade are.

Rows are addressed by their index on the tick grid (price / tick, an integer), so that
prices compare exactly however the float arithmetic rounds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ibterm.domain.depth import DepthBook, DepthLevel, FeedState
from ibterm.domain.orders import OrderUpdate, Side
from ibterm.domain.quote import Quote
from ibterm.domain.ticks import decimals


@dataclass(frozen=True, slots=True)
class LadderRow:
    index: int  # on the tick grid
    price: float
    bid_size: float | None = None
    ask_size: float | None = None
    buys: float = 0.0  # the trader's working buy quantity here
    sells: float = 0.0
    orders: tuple[str, ...] = ()  # their order refs, oldest first
    last: bool = False  # the last trade printed here


def tick_index(price: float, tick: float) -> int:
    return round(price / tick)


def price_at(index: int, tick: float) -> float:
    return round(index * tick, decimals(tick))


def order_price(order: OrderUpdate) -> float | None:
    """Where an order sits on the ladder: a stop (and a stop limit) where it triggers,
    that being the price the trader watches; a limit at its limit; None for the others."""
    if order.order_type.needs_stop:
        return order.stop
    return order.limit


def _top(book: DepthBook | None, quote: Quote | None) -> tuple[tuple[DepthLevel, ...],
                                                               tuple[DepthLevel, ...]]:
    """The levels to show: the live book's, else the quote's touch alone (so a refused
    depth still shows where the market is)."""
    if book is not None and book.state is FeedState.LIVE and (book.bids or book.asks):
        return book.bids, book.asks
    if quote is None or quote.flag:
        return (), ()
    bids = (DepthLevel(quote.bid, quote.bid_size or 0.0),) if quote.bid is not None else ()
    asks = (DepthLevel(quote.ask, quote.ask_size or 0.0),) if quote.ask is not None else ()
    return bids, asks


def touch_index(book: DepthBook | None, quote: Quote | None, tick: float) -> int | None:
    """The row between the best bid and the best ask (the bid's when they are a tick
    apart), or the one side there is; None without either."""
    bids, asks = _top(book, quote)
    if bids and asks:
        return (tick_index(bids[0].price, tick) + tick_index(asks[0].price, tick)) // 2
    if bids or asks:
        return tick_index((bids or asks)[0].price, tick)
    if quote is not None and quote.last is not None and not quote.flag:
        return tick_index(quote.last, tick)
    return None


def ladder_rows(top: int, count: int, tick: float, book: DepthBook | None,
                quote: Quote | None, working: Iterable[OrderUpdate],
                con_id: int) -> list[LadderRow]:
    """`count` rows from index `top` down, a tick apart."""
    bids, asks = _top(book, quote)
    bid_at = {tick_index(lv.price, tick): lv.size for lv in bids}
    ask_at = {tick_index(lv.price, tick): lv.size for lv in asks}
    mine: dict[int, list[OrderUpdate]] = {}
    for order in working:
        price = order_price(order)
        if order.instrument.con_id == con_id and price is not None and not order.done:
            mine.setdefault(tick_index(price, tick), []).append(order)
    last = (tick_index(quote.last, tick)
            if quote is not None and quote.last is not None and not quote.flag else None)
    rows = []
    for index in range(top, top - count, -1):
        orders = mine.get(index, [])
        rows.append(LadderRow(
            index, price_at(index, tick), bid_at.get(index), ask_at.get(index),
            sum(o.remaining for o in orders if o.side is Side.BUY),
            sum(o.remaining for o in orders if o.side is Side.SELL),
            tuple(o.order_ref for o in orders), index == last))
    return rows
