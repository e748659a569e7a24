"""The order ticket: fields, the live quote of its instrument, and the checks as you type.

The ticket only renders and posts messages; the app resolves the symbol, runs the checks
and submits through the order pipeline.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Static

from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.offsets import BracketPrices, bracket_prices, parse_offset
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
)
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.domain.ticket_form import TicketError, TicketForm, build_spec
from ibterm.tui import format as fmt
from ibterm.tui.widgets.fields import Cycler, StepInput, TextInput, ToggleBox

ORDER_TYPES = [t.value for t in OrderType]


class OrderTicket(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "fill('bid')", "Bid", id="ticket-fill-bid"),
        Binding("f6", "fill('ask')", "Ask", id="ticket-fill-ask"),
        Binding("f7", "fill('mid')", "Mid", id="ticket-fill-mid"),
        Binding("f8", "fill('last')", "Last", id="ticket-fill-last"),
        # Not ctrl+t / ctrl+o: zellij takes them (and tmux ctrl+b, terminals ctrl+s/q).
        Binding("f4", "transmit", "Send", id="ticket-transmit"),
        Binding("f3", "oca_add", "Add to OCA", id="ticket-oca-add"),
        Binding("shift+f3", "oca_clear", "Clear OCA", show=False, id="ticket-oca-clear"),
        Binding("escape", "close", "Close ticket", id="ticket-close"),
    ]
    DEFAULT_CSS = """
    OrderTicket { height: auto; border: round $primary; padding: 0 1; display: none; }
    OrderTicket.open { display: block; }
    OrderTicket Horizontal { height: 1; }
    OrderTicket Label { padding: 0 1 0 1; color: $text-muted; }
    OrderTicket Input { border: none; height: 1; padding: 0 1; background: $boost; }
    OrderTicket Input:focus { border: none; background: $primary 30%; }
    OrderTicket #t-symbol { width: 22; }
    OrderTicket #t-qty { width: 10; }
    OrderTicket #t-limit, OrderTicket #t-stop { width: 12; }
    OrderTicket #t-trail { width: 9; }
    OrderTicket Checkbox, OrderTicket Checkbox:focus { border: none; height: 1; padding: 0 1;
                                                       background: $boost; }
    OrderTicket #t-quote, OrderTicket #t-checks { height: 1; }
    OrderTicket #t-tp, OrderTicket #t-sl { width: 10; }
    OrderTicket .bracket-row, OrderTicket .oca-row { display: none; }
    OrderTicket.bracket .bracket-row, OrderTicket.oca .oca-row { display: block; }
    """

    class Submit(Message):
        def __init__(self, intent: OrderIntent, modify_ref: str = "") -> None:
            super().__init__()
            self.intent = intent
            self.modify_ref = modify_ref  # set when the ticket modifies a working order

    class SymbolEntered(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Edited(Message):
        """Any field changed: the app re-runs the checks."""

    class Opened(Message):
        """The ticket is shown: the app shows the margin preview beside it."""

    class Closed(Message):
        pass

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Order ticket"
        self.instrument: Instrument | None = None
        self.quote: Quote | None = None
        self.account = ""
        self.stop_gap = 0.02
        self.oca_legs: list[OrderSpec] = []
        self.modifying = ""  # order_ref of the working order being modified

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("Symbol")
            yield TextInput(placeholder="AAPL, ES, SPY 20261218 600 C", id="t-symbol")
            yield Label("Side")
            yield Cycler([Side.BUY.value, Side.SELL.value], id="t-side")
            yield Label("Qty")
            yield StepInput(1.0, id="t-qty", value="100")
            yield Label("Type")
            yield Cycler(ORDER_TYPES, OrderType.LMT.value, id="t-type")
            yield Label("Limit")
            yield StepInput(0.01, id="t-limit")
            yield Label("Stop")
            yield StepInput(0.01, id="t-stop")
        with Horizontal():
            yield Label("Trail")
            yield TextInput(placeholder="1.25 or 1%", id="t-trail")
            yield Label("TIF")
            yield Cycler([t.value for t in TimeInForce], id="t-tif")
            yield ToggleBox("Outside RTH", id="t-rth")
            yield Label("Account")
            yield Cycler(["—"], id="t-account")
            yield Label("Mode")
            yield Cycler(["single", "bracket", "oca"], id="t-mode")
            yield Label("", id="t-instrument")
        with Horizontal(classes="bracket-row"):
            yield Label("Take profit")
            yield TextInput(placeholder="1.5%", id="t-tp", value="1.5%")
            yield Label("Stop loss")
            yield TextInput(placeholder="0.75%", id="t-sl", value="0.75%")
            yield Label("", id="t-bracket")
        with Horizontal(classes="oca-row"):
            yield Label("OCA type")
            yield Cycler(["1", "2", "3"], id="t-oca-type")
            yield Label("", id="t-oca")
        yield Static("", id="t-quote")
        yield Static("", id="t-checks")

    # --- opening and filling ---------------------------------------------------------
    def open(self, side: Side | None = None, symbol: str | None = None) -> None:
        self.add_class("open")
        self.post_message(self.Opened())
        if side is not None:
            self.query_one("#t-side", Cycler).set_value(side.value)
        if symbol:
            self.query_one("#t-symbol", Input).value = symbol
            self.post_message(self.SymbolEntered(symbol))
            self.query_one("#t-qty", Input).focus()
        else:
            self.query_one("#t-symbol", Input).focus()

    def open_modify(self, order: OrderUpdate) -> None:
        """Load a working order into the fields; F4 (transmit) then re-places it."""
        self.modifying = order.order_ref
        self.border_title = f"Modify order {order.order_id} ({order.order_ref})"
        self.add_class("open")
        self.post_message(self.Opened())
        self.query_one("#t-mode", Cycler).set_value("single")
        self.query_one("#t-symbol", Input).value = order.instrument.display
        self.query_one("#t-side", Cycler).set_value(order.side.value)
        self.query_one("#t-type", Cycler).set_value(order.order_type.value)
        self.set_instrument(order.instrument)
        self.query_one("#t-qty", StepInput).set_number(order.quantity)
        if order.limit is not None:
            self.query_one("#t-limit", StepInput).set_number(order.limit)
        if order.stop is not None:
            self.query_one("#t-stop", StepInput).set_number(order.stop)
        self.query_one("#t-limit" if order.limit is not None else "#t-qty", Input).focus()

    def action_close(self) -> None:
        self.modifying = ""
        self.border_title = "Order ticket"
        self.remove_class("open")
        self.post_message(self.Closed())

    def set_instrument(self, inst: Instrument | None, error: str = "") -> None:
        self.instrument = inst
        label = self.query_one("#t-instrument", Label)
        if inst is None:
            label.update(Text(error or "", style="bold red"))
            return
        label.update(Text(f"{inst.display}  tick {inst.min_tick:g}  ×{inst.multiplier:g}",
                          style="dim"))
        for field in ("#t-limit", "#t-stop"):
            self.query_one(field, StepInput).step = inst.min_tick
        qty = self.query_one("#t-qty", StepInput)
        qty.step = inst.size_increment
        if qty.value == "100" and inst.sec_type is not SecType.STK:
            qty.set_number(inst.size_increment)  # 100 shares is a habit; 100 contracts is not
        self.post_message(self.Edited())

    def show_quote(self, quote: Quote | None, stale: bool) -> None:
        self.quote = quote
        live = quote is not None and not stale and quote.data_type is MarketDataType.LIVE
        limit = self.query_one("#t-limit", StepInput)
        if live and not limit.value and self.instrument is not None:
            # Start from the relevant side of a live quote; never from a delayed or stale one.
            assert quote is not None
            side = Side(self.query_one("#t-side", Cycler).value)
            touch = quote.ask if side is Side.BUY else quote.bid
            if touch:
                limit.set_number(touch)
        text = Text()
        if quote is None:
            text.append("no quote yet", style="dim")
        else:
            dec = fmt.tick_decimals(self.instrument.min_tick) if self.instrument else 2
            text.append("bid ", style="dim")
            text.append(f"{fmt.price(quote.bid, dec)} x {fmt.compact(quote.bid_size)}")
            text.append("   ask ", style="dim")
            text.append(f"{fmt.price(quote.ask, dec)} x {fmt.compact(quote.ask_size)}")
            text.append("   last ", style="dim")
            text.append(fmt.price(quote.last, dec))
            if stale:
                text.append("   STALE", style="bold yellow")
            elif quote.data_type is not MarketDataType.LIVE:
                text.append(f"   {quote.data_type.label.upper()}", style="bold magenta")
        self.query_one("#t-quote", Static).update(text)

    def show_checks(self, checks: list[CheckResult], error: str = "") -> None:
        text = Text()
        if error:
            text.append(f"✖ {error}", style="bold red")
        if checks and all(c.severity is CheckSeverity.OK for c in checks):
            text.append("✔ all checks pass", style="green")
        for c in checks:
            if c.severity is CheckSeverity.OK:
                continue
            if c.severity is CheckSeverity.BREACH:
                text.append(f"⚠ {c.check}: {c.message}  ", style="yellow")
            else:
                text.append(f"✖ {c.message}  ", style="bold red")
        self.query_one("#t-checks", Static).update(text)

    def action_fill(self, which: str) -> None:
        q = self.quote
        if q is None:
            return
        value = {"bid": q.bid, "ask": q.ask, "mid": q.mid, "last": q.last}[which]
        if value is None:
            return
        target = "#t-stop" if self.query_one("#t-type", Cycler).value in ("STP",) else "#t-limit"
        field = self.query_one(target, StepInput)
        tick = self.instrument.min_tick if self.instrument else 0.01
        field.set_number(round(value / tick) * tick)

    # --- building --------------------------------------------------------------------
    def set_accounts(self, accounts: list[str], default: str) -> None:
        """The accounts this login manages (and the profile allows); default first."""
        cycler = self.query_one("#t-account", Cycler)
        cycler.values = accounts or ["—"]
        cycler.value = default if default in cycler.values else cycler.values[0]
        cycler.refresh_value()

    @property
    def account_choice(self) -> str:
        value = self.query_one("#t-account", Cycler).value
        return "" if value == "—" else value

    @property
    def mode(self) -> str:
        return self.query_one("#t-mode", Cycler).value

    def build(self) -> OrderIntent:
        """The intent the fields describe; TicketError names the field that is wrong."""
        if self.mode == "oca":
            if len(self.oca_legs) < 2:
                raise TicketError("oca", "add two or more orders with F3 first")
            oca_type = int(self.query_one("#t-oca-type", Cycler).value)
            return OrderIntent(tuple(self.oca_legs), kind=IntentKind.OCA, oca_type=oca_type,
                               source="ticket")
        spec = self._build_spec()
        if self.mode == "bracket":
            return self._bracket(spec)
        return OrderIntent((spec,), source="ticket")

    def bracket_summary(self) -> BracketPrices:
        spec = self._build_spec()
        return self._bracket_numbers(spec)

    def _bracket_numbers(self, spec: OrderSpec) -> BracketPrices:
        assert self.instrument is not None
        if spec.order_type is OrderType.LMT:
            if spec.limit is None:
                raise TicketError("limit", "a limit price is required")
            entry = spec.limit
        elif spec.order_type is OrderType.MKT:
            q = self.quote
            touch = (q.ask if spec.side is Side.BUY else q.bid) if q else None
            if q is None or touch is None or q.data_type is not MarketDataType.LIVE:
                raise TicketError("type", "a market entry needs a live quote to place its exits")
            entry = touch
        else:
            raise TicketError("type", "a bracket's entry is LMT or MKT")
        try:
            take = parse_offset(self.query_one("#t-tp", Input).value)
        except ValueError as exc:
            raise TicketError("take profit", str(exc)) from None
        try:
            stop = parse_offset(self.query_one("#t-sl", Input).value)
        except ValueError as exc:
            raise TicketError("stop loss", str(exc)) from None
        inst = self.instrument
        return bracket_prices(spec.side, entry, spec.quantity, inst.multiplier, inst.min_tick,
                              take, stop, self.stop_gap)

    def _bracket(self, entry: OrderSpec) -> OrderIntent:
        prices = self._bracket_numbers(entry)
        exit_side = entry.side.opposite
        take = OrderSpec(entry.instrument, exit_side, entry.quantity, OrderType.LMT,
                         limit=prices.take_profit, tif=entry.tif, account=entry.account)
        stop = OrderSpec(entry.instrument, exit_side, entry.quantity, OrderType.STP,
                         stop=prices.stop_loss, tif=entry.tif, account=entry.account)
        return OrderIntent((entry, take, stop), kind=IntentKind.BRACKET, source="bracket")

    def show_bracket(self) -> None:
        label = self.query_one("#t-bracket", Label)
        try:
            p = self.bracket_summary()
        except TicketError as exc:
            label.update(Text(str(exc), style="red"))
            return
        dec = fmt.tick_decimals(self.instrument.min_tick) if self.instrument else 2
        rr = f"{p.reward_risk:.2f}" if p.reward_risk is not None else fmt.DASH
        label.update(Text(
            f"TP {fmt.price(p.take_profit, dec)}  SL {fmt.price(p.stop_loss, dec)}  "
            f"reward {fmt.money(p.reward)}  risk {fmt.money(p.risk)}  R:R {rr}  "
            f"gap {self.stop_gap:.0%} loss {fmt.money(p.gap_loss)}"))

    def action_oca_add(self) -> None:
        if self.mode != "oca":
            self.query_one("#t-mode", Cycler).set_value("oca")
        try:
            spec = self._build_spec()
        except TicketError as exc:
            self.show_checks([], str(exc))
            return
        self.oca_legs.append(spec)
        self._show_oca()
        self.post_message(self.Edited())

    def action_oca_clear(self) -> None:
        self.oca_legs.clear()
        self._show_oca()
        self.post_message(self.Edited())

    def _show_oca(self) -> None:
        text = "; ".join(s.describe() for s in self.oca_legs) or "F3 adds the order above"
        self.query_one("#t-oca", Label).update(Text(f"{len(self.oca_legs)}: {text}"))

    def form(self) -> TicketForm:
        """The fields as typed."""
        return TicketForm(
            side=self.query_one("#t-side", Cycler).value,
            order_type=self.query_one("#t-type", Cycler).value,
            tif=self.query_one("#t-tif", Cycler).value,
            quantity=self.query_one("#t-qty", Input).value,
            limit=self.query_one("#t-limit", Input).value,
            stop=self.query_one("#t-stop", Input).value,
            trail=self.query_one("#t-trail", Input).value,
            outside_rth=self.query_one("#t-rth", Checkbox).value,
            account=self.account_choice or self.account)

    def _build_spec(self) -> OrderSpec:
        return build_spec(self.form(), self.instrument)

    # --- events ----------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "t-symbol":
            self.post_message(self.SymbolEntered(event.value))
            self.query_one("#t-qty", Input).focus()
        else:
            self.action_transmit()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "t-symbol":
            self.post_message(self.Edited())

    def on_cycler_changed(self, event: Cycler.Changed) -> None:
        if event.cycler.id == "t-mode":
            for mode in ("bracket", "oca"):
                self.set_class(event.value == mode, mode)
            self._show_oca()
        self.post_message(self.Edited())

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.post_message(self.Edited())

    def action_transmit(self) -> None:
        try:
            intent = self.build()
        except TicketError as exc:
            self.show_checks([], str(exc))
            return
        self.post_message(self.Submit(intent, self.modifying))
