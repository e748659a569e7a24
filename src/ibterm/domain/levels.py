"""The prices a chart draws across its bars: the instrument's working orders, the
position's average cost, and the open ticket's bracket (entry, take profit, stop)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ibterm.domain.account import Position
from ibterm.domain.numbers import plain
from ibterm.domain.orders import (
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    OrderUpdate,
    Side,
)


class LevelKind(StrEnum):
    BUY = "buy"  # a working buy order
    SELL = "sell"
    COST = "cost"  # the position's average cost
    TAKE_PROFIT = "take-profit"
    STOP_LOSS = "stop-loss"
    ENTRY = "entry"  # the ticket's bracket entry, not sent yet


@dataclass(frozen=True, slots=True)
class PriceLevel:
    price: float
    kind: LevelKind
    label: str  # short: "B 100 LMT", "avg", "TP", "SL"


def _order_price(order_type: OrderType, limit: float | None, stop: float | None) -> float | None:
    # A stop-limit is drawn where it triggers: that is the price the trader watches.
    return stop if stop is not None and order_type.needs_stop else limit


def _qty(quantity: float) -> str:
    return plain(quantity)


def price_levels(con_id: int, working: Iterable[OrderUpdate], positions: Iterable[Position],
                 ticket: OrderIntent | None) -> list[PriceLevel]:
    """The levels for one instrument. `ticket` is the open ticket's order, drawn only when
    it is a bracket (its exits are what the trader is placing)."""
    levels: list[PriceLevel] = []
    for order in working:
        if order.instrument.con_id != con_id:
            continue
        price = _order_price(order.order_type, order.limit, order.stop)
        if price is None:
            continue  # a market or trailing order has no price to draw
        kind = LevelKind.BUY if order.side is Side.BUY else LevelKind.SELL
        levels.append(PriceLevel(price, kind, f"{order.side.value[0]} {_qty(order.remaining)} "
                                              f"{order.order_type.value}"))
    for position in positions:
        if position.instrument.con_id == con_id and position.quantity and position.avg_cost:
            levels.append(PriceLevel(position.avg_cost, LevelKind.COST,
                                     f"avg {_qty(position.quantity)}"))
    if ticket is not None and ticket.kind is IntentKind.BRACKET:
        levels.extend(_bracket_levels(con_id, ticket.legs))
    return levels


def _bracket_levels(con_id: int, legs: tuple[OrderSpec, ...]) -> list[PriceLevel]:
    if len(legs) != 3 or legs[0].instrument.con_id != con_id:
        return []
    entry, profit, stop = legs
    found = []
    entry_price = _order_price(entry.order_type, entry.limit, entry.stop)
    if entry_price is not None:
        found.append(PriceLevel(entry_price, LevelKind.ENTRY, "entry"))
    if profit.limit is not None:
        found.append(PriceLevel(profit.limit, LevelKind.TAKE_PROFIT, "TP"))
    if stop.stop is not None:
        found.append(PriceLevel(stop.stop, LevelKind.STOP_LOSS, "SL"))
    return found
