"""The orders blotter: working and finished orders, keyed by orderRef, updated in place.

A bracket's legs and an OCA group's members stay together, newest group first, drawn as
a tree in the symbol column so that which stop belongs to which entry reads without
colour: `┌ AAPL` entry, `├ TP` take profit, `└ SL` stop loss; `┌◇ MSFT` … `└◇ IBM` for
the members of one OCA group. A combination order is one row named as the order names it
(`┌ SPY iron condor`; `┌ SPY combo` without a strategy's name, as one adopted after a
reconnect) with its legs under it while it works (`├ 20261218 600 C`, `└ 20261218 610 C`:
the side and quantity this order trades of each); once it has finished it is its one row
again.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ibterm.domain.orders import ComboLeg, IntentKind, OrderUpdate, Side
from ibterm.tui import format as fmt
from ibterm.tui.widgets.grid import Column, Grid

COLUMNS = (
    # Room for "┌ AAPL iron butterfly": a combination is named by its strategy.
    Column("symbol", "Symbol", 22, "left", min_width=11),
    Column("side", "Side", 4, "left"),
    Column("qty", "Qty", 7),
    Column("type", "Type", 7, "left", priority=1),
    Column("price", "Price", 10),
    Column("status", "Status", 13, "left", min_width=9),
    Column("filled", "Filled", 7, priority=1),  # the symbol narrows before it leaves
    Column("avg", "Avg", 10, priority=2),
    Column("note", "Note", 12, "left", priority=3, grow=True),
)
_STATUS_STYLE = {
    "Filled": "trade-up", "Cancelled": "quote-stale", "ApiCancelled": "quote-stale",
    "Inactive": "trade-down", "NotSent": "trade-down", "Queued": "quote-delayed",
}


_BRACKET_ROLE = {0: "", 1: "TP", 2: "SL"}  # leg -> what it is, as the pipeline numbers them


def leg_key(order_ref: str, leg: int) -> str:
    """The row of a combination's leg: its own key, never an orderRef (`|` is in none)."""
    return f"{order_ref}|{leg}"


def _legs_shown(u: OrderUpdate) -> bool:
    return bool(u.combo) and not u.done


def leg_label(leg: ComboLeg, last: bool) -> str:
    """A combination leg's symbol cell: its contract without the combination's symbol."""
    name = leg.instrument.display.removeprefix(leg.instrument.symbol).strip()
    return f"{'└' if last else '├'} {name or leg.instrument.display}"


def tree_label(u: OrderUpdate, position: int, size: int) -> str:
    """The symbol cell: the instrument, marked with its place in its group."""
    if _legs_shown(u):
        return f"┌ {u.display}"
    if u.kind is IntentKind.BRACKET and size > 1:
        if u.leg == 0:
            return f"┌ {u.instrument.display}"
        branch = "└" if position == size - 1 else "├"
        return f"{branch} {_BRACKET_ROLE.get(u.leg, '')}".rstrip()
    if u.kind is IntentKind.OCA and size > 1:
        branch = "┌" if position == 0 else "└" if position == size - 1 else "├"
        return f"{branch}◇ {u.instrument.display}"
    return u.display


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
        # intent id -> its order refs, oldest intent first (dicts keep insertion order)
        self._groups: dict[str, list[str]] = {}

    def apply(self, updates: list[OrderUpdate]) -> None:
        grown: set[str] = set()  # intents that gained a row: their tree labels change
        for u in updates:
            if u.order_ref not in self.orders:
                self.add_row(u.order_ref)
                self._groups.setdefault(u.intent_id, []).append(u.order_ref)
                grown.add(u.intent_id)
            self.orders[u.order_ref] = u
            if u.combo and self._sync_legs(u):
                grown.add(u.intent_id)
        if grown:
            self._arrange()
        changed = {u.order_ref for u in updates}
        changed.update(ref for intent in grown for ref in self._groups[intent])
        for ref in changed:
            self._render(self.orders[ref])
        self._trim()

    def _sync_legs(self, u: OrderUpdate) -> bool:
        """A combination's leg rows: added while it works, removed once it has finished.
        True when rows came or went."""
        keys = [leg_key(u.order_ref, i) for i in range(len(u.combo))]
        shown = _legs_shown(u)
        if shown == (keys[0] in self._index):
            return False
        for key in keys:
            if shown:
                self.add_row(key)
            else:
                self.remove_row(key)
        return True

    def _arrange(self) -> None:
        """Newest group first; within a group, its legs in order (entry, take profit,
        stop loss; OCA members as sent), a combination's legs under it."""
        order: list[str] = []
        for refs in reversed(self._groups.values()):
            for ref in sorted(refs, key=lambda r: self.orders[r].leg):
                order.append(ref)
                u = self.orders[ref]
                if _legs_shown(u):
                    order += [leg_key(ref, i) for i in range(len(u.combo))]
        self.reorder(order)

    def _group_of(self, u: OrderUpdate) -> list[str]:
        return sorted(self._groups.get(u.intent_id, [u.order_ref]),
                      key=lambda r: self.orders[r].leg if r in self.orders else 0)

    def _trim(self) -> None:
        """The oldest finished orders leave once there are more than keep_finished; the
        journal keeps them. Working orders always stay."""
        finished = [k for k in self._keys if k in self.orders and self.orders[k].done]
        for key in finished[self.keep_finished:]:
            self.remove_row(key)
            intent = self.orders.pop(key).intent_id
            refs = self._groups.get(intent, [])
            if key in refs:
                refs.remove(key)
            if not refs:
                self._groups.pop(intent, None)

    def _render(self, u: OrderUpdate) -> None:
        dec = fmt.tick_decimals(u.instrument.min_tick)
        price = u.limit if u.limit is not None else u.stop
        side_style = self.color("trade-up" if u.side is Side.BUY else "trade-down")
        status_style = self.color(_STATUS_STYLE[u.status]) if u.status in _STATUS_STYLE else ""
        dim = "dim" if u.done else ""
        key = u.order_ref
        group = self._group_of(u)
        label = tree_label(u, group.index(key) if key in group else 0, len(group))
        self.set_cell(key, "symbol", Text(label, style=f"bold {dim}".strip()))
        self.set_cell(key, "side", Text(u.side.value, style=side_style))
        self.set_cell(key, "qty", Text(fmt.quantity(u.quantity), style=dim))
        self.set_cell(key, "type", Text(u.order_type.value, style=dim))
        self.set_cell(key, "price", Text(fmt.price(price, dec) if price else "", style=dim))
        self.set_cell(key, "status", Text(u.status, style=f"bold {status_style}".strip()))
        self.set_cell(key, "filled", Text(fmt.quantity(u.filled), style=dim))
        self.set_cell(key, "avg", Text(fmt.price(u.avg_price, dec) if u.filled else "",
                                       style=dim))
        self.set_cell(key, "note", Text(u.message, style="dim"))
        if _legs_shown(u):
            for i, leg in enumerate(u.combo):
                self._render_leg(u, i, leg)

    def _render_leg(self, u: OrderUpdate, i: int, leg: ComboLeg) -> None:
        key = leg_key(u.order_ref, i)
        side = leg.action if u.side is Side.BUY else leg.action.opposite
        self.set_cell(key, "symbol", Text(leg_label(leg, i == len(u.combo) - 1)))
        self.set_cell(key, "side", Text(side.value, style=self.color(
            "trade-up" if side is Side.BUY else "trade-down")))
        self.set_cell(key, "qty", Text(fmt.quantity(leg.ratio * u.quantity)))
        self.set_cell(key, "filled", Text(fmt.quantity(leg.ratio * u.filled)))

    def selected(self) -> OrderUpdate | None:
        """The order under the cursor: a combination's leg row stands for the combination
        (its legs are cancelled and modified with it, never alone)."""
        if not self._keys:
            return None
        key = self._keys[self.cursor_row]
        return self.orders.get(key.split("|", 1)[0])

    def action_cancel(self) -> None:
        order = self.selected()
        if order is not None:
            self.post_message(self.CancelRequested(order.order_ref, False))

    def action_modify(self) -> None:
        # A combination's leg row stands for the combination: the ticket modifies it whole.
        order = self.selected()
        if order is not None and not order.done:
            self.post_message(self.ModifyRequested(order))

    def action_cancel_instrument(self) -> None:
        order = self.selected()
        if order is not None:
            self.post_message(self.CancelRequested(order.order_ref, True))
