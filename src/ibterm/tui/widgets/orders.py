"""The orders blotter: working and finished orders, keyed by orderRef, updated in place."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ibterm.domain.orders import OrderUpdate, Side
from ibterm.tui import format as fmt
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    Column("symbol", "Symbol", 18, "left", min_width=11),
    Column("side", "Side", 4, "left"),
    Column("qty", "Qty", 7),
    Column("type", "Type", 7, "left", priority=1),
    Column("price", "Price", 10),
    Column("status", "Status", 13, "left", min_width=9),
    Column("filled", "Filled", 7, priority=2),
    Column("avg", "Avg", 10, priority=2),
    Column("note", "Note", 12, "left", priority=3, grow=True),
)
_STATUS_STYLE = {
    "Filled": "trade-up", "Cancelled": "quote-stale", "ApiCancelled": "quote-stale",
    "Inactive": "trade-down", "NotSent": "trade-down", "Queued": "quote-delayed",
}


class OrdersTable(Grid):
    COLUMNS = COLUMNS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel", "Cancel order", id="cancel-order"),
        Binding("m", "modify", "Modify order", id="modify-order"),
        Binding("C", "cancel_instrument", "Cancel all for instrument",
                id="cancel-instrument-orders"),
    ]

    class CancelRequested(Message):
        def __init__(self, order_ref: str, whole_instrument: bool) -> None:
            super().__init__()
            self.order_ref = order_ref
            self.whole_instrument = whole_instrument

    class ModifyRequested(Message):
        def __init__(self, order: OrderUpdate) -> None:
            super().__init__()
            self.order = order

    def __init__(self, keep_finished: int = 500, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.orders: dict[str, OrderUpdate] = {}
        self.keep_finished = keep_finished  # the profile's blotter_finished

    def apply(self, updates: list[OrderUpdate]) -> None:
        for u in updates:
            # Newest first: insert new rows at the top by rebuilding the key order.
            if u.order_ref not in self.orders:
                self.add_row(u.order_ref)
                self._keys.insert(0, self._keys.pop())
                self._index = {k: i for i, k in enumerate(self._keys)}
                self._strips.clear()
                self._lines.clear()
                self.refresh()
            self.orders[u.order_ref] = u
            self._render(u)
        self._trim()

    def _trim(self) -> None:
        """The oldest finished orders leave once there are more than keep_finished; the
        journal keeps them. Working orders always stay."""
        finished = [k for k in self._keys if self.orders[k].done]  # newest first
        for key in finished[self.keep_finished:]:
            self.remove_row(key)
            del self.orders[key]

    def _render(self, u: OrderUpdate) -> None:
        dec = fmt.tick_decimals(u.instrument.min_tick)
        price = u.limit if u.limit is not None else u.stop
        side_style = self.color("trade-up" if u.side is Side.BUY else "trade-down")
        status_style = self.color(_STATUS_STYLE[u.status]) if u.status in _STATUS_STYLE else ""
        dim = "dim" if u.done else ""
        key = u.order_ref
        self.set_cell(key, "symbol", Text(u.instrument.display, style=f"bold {dim}".strip()))
        self.set_cell(key, "side", Text(u.side.value, style=side_style))
        self.set_cell(key, "qty", Text(fmt.quantity(u.quantity), style=dim))
        self.set_cell(key, "type", Text(u.order_type.value, style=dim))
        self.set_cell(key, "price", Text(fmt.price(price, dec) if price else "", style=dim))
        self.set_cell(key, "status", Text(u.status, style=f"bold {status_style}".strip()))
        self.set_cell(key, "filled", Text(fmt.quantity(u.filled), style=dim))
        self.set_cell(key, "avg", Text(fmt.price(u.avg_price, dec) if u.filled else "",
                                       style=dim))
        self.set_cell(key, "note", Text(u.message, style="dim"))

    def selected(self) -> OrderUpdate | None:
        if not self._keys:
            return None
        return self.orders.get(self._keys[self.cursor_row])

    def action_cancel(self) -> None:
        order = self.selected()
        if order is not None:
            self.post_message(self.CancelRequested(order.order_ref, False))

    def action_modify(self) -> None:
        order = self.selected()
        if order is not None and not order.done:
            self.post_message(self.ModifyRequested(order))

    def action_cancel_instrument(self) -> None:
        order = self.selected()
        if order is not None:
            self.post_message(self.CancelRequested(order.order_ref, True))
