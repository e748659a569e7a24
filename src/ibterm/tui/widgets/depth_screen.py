"""The depth screen: a price ladder (DOM) for one instrument with its time & sales beside
it. Orders placed, moved and cancelled from the ladder take the one order pipeline, with
its checks and confirmations, as the ticket's do. Escape closes it and ends both
subscriptions.

The ladder follows the touch (recentring when it reaches the edge of the rows on screen)
until the trader moves the cursor or an order; then it stays still, so no row slides under
the cursor being aimed, until the centre key. Following the market never moves the
cursor off the price the trader chose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical

from ibterm.broker.approval import Outcome
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.quotes import LADDER, part_holder
from ibterm.broker.session import BrokerSession
from ibterm.broker.working import NotModifiable
from ibterm.domain.depth import DepthBook, FeedState
from ibterm.domain.instrument import Instrument
from ibterm.domain.ladder import LadderRow, ladder_rows, order_price, price_at, touch_index
from ibterm.domain.numbers import plain
from ibterm.domain.orders import OrderIntent, OrderSpec, OrderType, OrderUpdate, Side
from ibterm.domain.quote import Quote
from ibterm.domain.tape import Tape
from ibterm.domain.ticket_form import TicketError, parse_number
from ibterm.tui import format as fmt
from ibterm.tui.widgets.confirm import AskText
from ibterm.tui.widgets.full_screen import StatusScreen, close_key, keys_key
from ibterm.tui.widgets.ladder import WIDTH, LadderView
from ibterm.tui.widgets.tape import TapeView

# The touch may come this close to the edge of the rows on screen before they recentre.
EDGE = 1


def intent_at(inst: Instrument, side: Side, quantity: float, price: float,
              account: str) -> OrderIntent:
    """A limit order at a ladder row, journaled with the ladder as its source."""
    return OrderIntent((OrderSpec(inst, side, quantity, OrderType.LMT, limit=price,
                                  account=account),), source="ladder")


def moved(spec: OrderSpec, ticks: int, tick: float) -> OrderSpec:
    """The order `ticks` ticks higher (lower when negative): its limit, its stop, or both
    for a stop limit, which keeps its offset."""
    def step(price: float | None) -> float | None:
        return None if price is None else price_at(round(price / tick) + ticks, tick)

    return replace(spec, limit=step(spec.limit), stop=step(spec.stop))


def book_title(inst: Instrument, book: DepthBook | None, quote: Quote | None, now: float,
               stale_after: float) -> str:
    """The ladder's title: what, and how fresh its depth is, never old rows passed off as
    the market."""
    head = f"Depth {inst.display}"
    if quote is not None and not quote.data_type.is_live:
        head += f" · quote {quote.data_type.label.upper()}"
    if book is None:
        return head
    if book.state is FeedState.LIVE:
        if book.age(now) > stale_after:
            return f"{head} · STALE: no change for {fmt.age(book.age(now))}"
        return f"{head} · ● live"
    if book.state is FeedState.LOADING:
        return f"{head} · loading"
    if book.state is FeedState.STOPPED:
        return f"{head} · ✖ not live: {book.detail}"
    return f"{head} · ✖ depth refused"


def book_message(book: DepthBook | None) -> str:
    """Where the ladder has no rows, why."""
    if book is not None and book.state is FeedState.REFUSED:
        return f"No depth: {book.detail}"
    return "Waiting for the quote…"


def tape_title(tape: Tape | None) -> str:
    if tape is None or tape.state is FeedState.LIVE:
        return "Time & sales · ● live" if tape is not None else "Time & sales"
    if tape.state is FeedState.LOADING:
        return "Time & sales · loading"
    if tape.state is FeedState.STOPPED:
        return f"Time & sales · ✖ not live: {tape.detail}"
    return "Time & sales · ✖ refused"


class DepthScreen(StatusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        close_key("ladder-close"),
        Binding("up", "row(1)", "Row up", show=False, id="ladder-row-up"),
        Binding("down", "row(-1)", "Row down", show=False, id="ladder-row-down"),
        Binding("pageup", "page(1)", "Page up", show=False, id="ladder-page-up"),
        Binding("pagedown", "page(-1)", "Page down", show=False, id="ladder-page-down"),
        Binding("b", "place('BUY')", "Buy limit", id="ladder-buy"),
        Binding("s", "place('SELL')", "Sell limit", id="ladder-sell"),
        Binding("shift+up,plus", "move(1)", "Order up a tick", id="ladder-order-up"),
        Binding("shift+down,minus", "move(-1)", "Order down a tick", show=False,
                id="ladder-order-down"),
        Binding("c,delete", "cancel_row", "Cancel at row", id="ladder-cancel"),
        Binding("space", "centre", "Centre on the touch", show=False, id="ladder-centre"),
        Binding("n", "quantity", "Quantity", show=False, id="ladder-quantity"),
        keys_key("ladder-keys"),
    ]
    HEAD = "ladder-head"
    REFRESH = 0.1  # the ladder and the tape, drawn faster than the chain
    DEFAULT_CSS = f"""
    DepthScreen {{ background: $background; }}
    DepthScreen #ladder-head {{ height: 1; padding: 0 1; }}
    DepthScreen #depth-body {{ height: 1fr; }}
    DepthScreen .depth-pane {{ border: round $panel-lighten-2; border-title-color: $text-muted;
                               height: 1fr; }}
    DepthScreen #ladder-pane {{ width: {WIDTH + 2}; border: round $primary;
                                border-title-color: $primary; }}
    DepthScreen #tape-pane {{ width: 1fr; min-width: 20; }}
    """

    def __init__(self, session: BrokerSession, pipeline: OrderPipeline, inst: Instrument,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 safety_keys: dict[str, str] | None = None) -> None:
        super().__init__(session, wall_clock, safety_keys)
        self.pipeline = pipeline
        self.instrument = inst
        self.tick = inst.min_tick
        self.decimals = fmt.tick_decimals(inst.min_tick)
        self.quantity = session.profile.ticket.quantity.get(inst.sec_type, inst.size_increment)
        self.top: int | None = None  # the grid index of the first row on screen
        self.cursor: int | None = None
        # The ladder follows the touch until the trader moves the cursor, then stays still
        # (rows do not slide under the cursor being aimed) until the centre key.
        self.following = True
        self.book: DepthBook | None = None
        self.tape: Tape | None = None
        self.rows: list[LadderRow] = []
        self._working: list[OrderUpdate] = []
        self._tape_drawn: tuple[object, ...] = ()

    def compose_view(self) -> ComposeResult:
        with Horizontal(id="depth-body"):
            with Vertical(id="ladder-pane", classes="depth-pane"):
                yield LadderView()
            with Vertical(id="tape-pane", classes="depth-pane"):
                yield TapeView()

    def on_mount(self) -> None:
        self.ladder = self.query_one(LadderView)
        self.tape_view = self.query_one(TapeView)
        self.ladder.focus()
        self.session.quotes_for(part_holder(LADDER, self), [self.instrument])
        self.session.depth.show(self.instrument)
        self.session.tape.show(self.instrument)
        self.draw_every_refresh()

    def on_unmount(self) -> None:
        # However the screen goes (escape, the app quitting), its subscriptions go too.
        self.session.depth.stop()
        self.session.tape.stop()
        self.session.quotes_for(part_holder(LADDER, self), ())

    # --- drawing -----------------------------------------------------------------------
    def refresh_view(self) -> None:
        session = self.session
        inst = self.instrument
        _, book = session.depth.take_changed()
        _, tape = session.tape.take_changed()
        self.book, self.tape = book, tape
        quote = session.quote(inst.con_id)
        self._working = [o for o in self.pipeline.working_orders()
                         if o.instrument.con_id == inst.con_id]
        count = self.ladder.row_count
        touch = touch_index(book, quote, self.tick)
        if touch is not None and (self.top is None or (self.following and not (
                self.top - count + 1 + EDGE <= touch <= self.top - EDGE))):
            self._centre_on(touch, count, move_cursor=False)
        self._show_status(quote, touch)
        now = session.clock()
        stale_after = session.profile.stale_after
        title = book_title(inst, book, quote, now, stale_after)
        self.rows = (ladder_rows(self.top, count, self.tick, book, quote, self._working,
                                 inst.con_id) if self.top is not None else [])
        rows_drawn = (tuple(self.rows), self.cursor, title, self.ladder.size)
        if rows_drawn != self._drawn:
            self._drawn = rows_drawn
            self.set_title(self.query_one("#ladder-pane"), title)
            self.ladder.show(self.rows, self.cursor, self.decimals, book_message(book))
        tape_drawn = (tape, self.tape_view.size)
        if tape_drawn != self._tape_drawn:
            self._tape_drawn = tape_drawn
            self.set_title(self.query_one("#tape-pane"), tape_title(tape))
            self.tape_view.show(tape.prints if tape is not None else (), self.decimals,
                                f"No prints: {tape.detail}" if tape is not None and tape.detail
                                else "No prints yet")

    def _show_status(self, quote: Quote | None, touch: int | None) -> None:
        self.show_status(quote, self.pipeline.state)
        head = Text.assemble((self.instrument.display, "bold"))
        if quote is not None:
            d = self.decimals
            head.append(f"  bid {fmt.price(quote.bid, d)} × {fmt.compact(quote.bid_size)}"
                        f"  ask {fmt.price(quote.ask, d)} × {fmt.compact(quote.ask_size)}"
                        f"  last {fmt.price(quote.last, d)}")
            if quote.flag:
                head.append(f"  {quote.flag.upper()}", "bold")
        head.append(f"  │ qty {fmt.quantity(self.quantity)}", "bold")
        if self.cursor is not None and self.top is not None:
            head.append(f" at {fmt.price(price_at(self.cursor, self.tick), self.decimals)}",
                        "bold")
            if not self.top - self.ladder.row_count < self.cursor <= self.top:
                head.append(" (off screen: ↑/↓ bring it back)", "bold reverse")
        if touch is not None and self.top is not None and not (
                self.top - self.ladder.row_count < touch <= self.top):
            head.append("  market off screen: space recentres", "bold reverse")
        head.append(f"  tick {plain(self.tick)}", "dim")
        self.show_head(head)

    def _centre_on(self, index: int, count: int, move_cursor: bool) -> None:
        # Following the market never moves the cursor: a key pressed as the ladder moves
        # must trade at the price the trader chose, even when its row has left the screen
        # (the line above says where it is; a row key brings it back).
        self.top = index + count // 2
        if move_cursor or self.cursor is None:
            self.cursor = index

    # --- keys --------------------------------------------------------------------------
    def action_row(self, step: int) -> None:
        if self.cursor is None or self.top is None:
            return
        count = self.ladder.row_count
        self.following = False
        self.cursor += step
        if self.cursor > self.top:
            self.top = self.cursor
        elif self.cursor < self.top - count + 1:
            self.top = self.cursor + count - 1
        self._redraw()

    def action_page(self, step: int) -> None:
        self.action_row(step * max(1, self.ladder.row_count - 1))

    def action_centre(self) -> None:
        touch = touch_index(self.book, self.session.quote(self.instrument.con_id), self.tick)
        if touch is not None:
            self.following = True
            self._centre_on(touch, self.ladder.row_count, move_cursor=True)
            self._redraw()

    def _orders_at_cursor(self) -> list[OrderUpdate]:
        return [o for o in self._working if (p := order_price(o)) is not None
                and round(p / self.tick) == self.cursor]

    def _cursor_price(self) -> float | None:
        return price_at(self.cursor, self.tick) if self.cursor is not None else None

    @work(group="ladder-orders", exit_on_error=False)
    async def action_place(self, side: str) -> None:
        price = self._cursor_price()
        if price is None:
            self.notify("No ladder yet: waiting for the quote", severity="warning")
            return
        intent = intent_at(self.instrument, Side(side), self.quantity, price,
                           self.session.account)
        result = await self.pipeline.submit(intent)
        if result.outcome is Outcome.QUEUED:
            self.notify(f"Sent: {intent.describe()}", timeout=4)
        elif result.outcome is Outcome.REJECTED:
            self.notify(f"Not sent: {result.message}", severity="error", timeout=10)

    @work(group="ladder-orders", exit_on_error=False)
    async def action_move(self, ticks: int) -> None:
        orders = self._orders_at_cursor()
        if not orders:
            self.notify(f"No working order at {fmt.price(self._cursor_price(), self.decimals)}",
                        severity="warning")
            return
        moved_any = False
        for order in orders:
            try:
                # The order as the gateway holds it, wherever it was placed: only its
                # price moves (never its time in force, account or outside-RTH flag).
                spec = self.pipeline.working_spec(order.order_ref)
            except NotModifiable as exc:
                self.notify(f"Not modified: {exc}", severity="warning", timeout=8)
                continue
            new = moved(spec, ticks, self.tick)
            result = await self.pipeline.modify(order.order_ref, new)
            if result.outcome is Outcome.QUEUED:
                moved_any = True
                self.notify(f"Modified: {new.describe()}", timeout=4)
            elif result.outcome is Outcome.REJECTED:
                self.notify(f"Not modified: {result.message}", severity="error", timeout=10)
        if moved_any and self.cursor is not None:
            self.following = False
            self.cursor += ticks  # the cursor goes with the order: the next press moves on
            self._redraw()

    def action_cancel_row(self) -> None:
        orders = self._orders_at_cursor()
        if not orders:
            self.notify(f"No working order at {fmt.price(self._cursor_price(), self.decimals)}",
                        severity="warning")
            return
        sent = sum(self.pipeline.cancel(order.order_ref) for order in orders)
        self.notify(f"Cancelling {sent} order(s) at "
                    f"{fmt.price(self._cursor_price(), self.decimals)}")

    @work(group="ladder-quantity", exclusive=True, exit_on_error=False)
    async def action_quantity(self) -> None:
        text = await self.app.push_screen_wait(AskText(
            f"Ladder quantity for {self.instrument.display} (now "
            f"{fmt.quantity(self.quantity)})", "a number of shares or contracts"))
        if not text:
            return
        try:
            value = parse_number(text, "quantity")
        except TicketError as exc:
            self.notify(f"Quantity not changed: {exc}", severity="error")
            return
        if value is None or value <= 0:
            self.notify("Quantity not changed: it must be greater than zero", severity="error")
            return
        self.quantity = value
        self._redraw()
