"""The order ticket: fields, the live quote of its instrument, and the checks as you type.

The ticket only renders and posts messages; the app resolves the symbol, runs the checks
and submits through the order pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Static

from ibterm.config.settings import PriceFrom, TicketDefaults
from ibterm.domain.combo import ComboMarket, combo_market
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.numbers import plain
from ibterm.domain.offsets import BracketPrices, bracket_prices, parse_offset
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    ComboLeg,
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
from ibterm.tui.widgets.fields import Cycler, FieldLabel, StepInput, TextInput, ToggleBox

ORDER_TYPES = [t.value for t in OrderType]
# What a modify cannot change (the pipeline refuses it: cancel and place a new order),
# shown but not editable; a combination's legs are listed read-only below the fields.
MODIFY_FIXED = ("#t-symbol", "#t-side", "#t-account", "#t-mode")
COMBO_UNUSED = ("#t-stop", "#t-trail")  # a combination is LMT or MKT

FieldValue = str | bool
# What belongs to one instrument, with what a new ticket holds before its defaults: none
# of it carries over to another instrument (#10: a limit of 415 from MSFT on an AAPL
# ticket). Side comes from the key, mode and account are the ticket's.
PER_INSTRUMENT: dict[str, FieldValue] = {
    "t-qty": "", "t-type": OrderType.LMT.value, "t-limit": "", "t-stop": "", "t-trail": "",
    "t-tif": TimeInForce.DAY.value, "t-rth": False, "t-tp": "1.5%", "t-sl": "0.75%",
}


# Typed fields' widths (with their padding); a cycler is as wide as its longest value.
INPUT_WIDTH = {"t-symbol": 18, "t-qty": 10, "t-limit": 12, "t-stop": 12, "t-trail": 10,
               "t-tp": 8, "t-sl": 8}


def _field_width(field: Widget) -> int:
    if isinstance(field, Cycler):
        return max(len(v) for v in field.values) + 4  # the value, its two marks, padding
    if isinstance(field, Checkbox):
        return len(str(field.label)) + 6  # [x], the label padded by one, padding right
    return INPUT_WIDTH.get(field.id or "", 10)


class FieldPair(Horizontal):
    """One field and its label: the unit the ticket's rows wrap by, never split."""

    def __init__(self, label: FieldLabel, field: Widget, only: str = "") -> None:
        super().__init__(classes="pair")
        self.label = label
        self.field = field
        self.only = only  # shown in this mode only ("bracket", "oca"); "" always

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.field

    def on_mount(self) -> None:
        self.fit()

    def fit(self) -> None:
        width = _field_width(self.field)
        self.field.styles.width = width
        self.field.styles.min_width = width

    def natural_width(self) -> int:
        label = len(self.label.text) + 2 if self.label.text else 1  # mark slot, padding
        return label + _field_width(self.field)


def _pair(text: str, field: Widget, only: str = "") -> FieldPair:
    assert field.id is not None
    return FieldPair(FieldLabel(text, field.id), field, only)


class OrderTicket(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "fill('bid')", "Bid", id="ticket-fill-bid"),
        Binding("f6", "fill('ask')", "Ask", id="ticket-fill-ask"),
        Binding("f7", "fill('mid')", "Mid", id="ticket-fill-mid"),
        Binding("f8", "fill('last')", "Last", id="ticket-fill-last"),
        # Not ctrl+t / ctrl+o: zellij takes them (and tmux ctrl+b, terminals ctrl+s/q).
        Binding("f4", "transmit", "Send", id="ticket-transmit"),
        Binding("f3", "oca_add", "Add to OCA", id="ticket-oca-add"),
        Binding("f2", "build", "Strategy builder", id="ticket-build"),
        Binding("shift+f3", "oca_clear", "Clear OCA", show=False, id="ticket-oca-clear"),
        Binding("escape", "close", "Close ticket", id="ticket-close"),
    ]
    DEFAULT_CSS = """
    OrderTicket { height: auto; border: round $primary; padding: 0 1; display: none; }
    OrderTicket.open { display: block; }
    /* The form is a grid of one-cell columns: _reflow gives each pair (label and field)
       a span of its own width and wraps the rows to the width there is, so every field
       stays on screen from 120 columns down to 60 and below. */
    OrderTicket #t-form { layout: grid; grid-size: 1; grid-columns: 1; grid-rows: 1;
                          grid-gutter: 0 0; height: auto; }
    OrderTicket .pair { height: 1; width: 1fr; }
    OrderTicket FieldLabel { padding: 0 1 0 0; }
    OrderTicket FieldLabel.-focused { color: $text; text-style: bold; }
    OrderTicket #l-t-rth { padding: 0; }
    OrderTicket Input { border: none; height: 1; padding: 0 1; background: $boost; }
    OrderTicket Input:focus { border: none; background: $primary 30%; }
    OrderTicket Checkbox, OrderTicket Checkbox:focus { border: none; height: 1;
                                                       padding: 0 1 0 0; background: $boost; }
    OrderTicket #t-quote, OrderTicket #t-checks, OrderTicket #t-bracket,
    OrderTicket #t-oca, OrderTicket #t-legs { height: auto; }
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

    class BuildRequested(Message):
        """Open the strategy builder on the ticket's option as its first leg (bought or
        sold as the ticket says, the ticket's quantity as the combination's)."""

        def __init__(self, leg: ComboLeg, quantity: int) -> None:
            super().__init__()
            self.leg = leg
            self.quantity = quantity

    def __init__(self, defaults: TicketDefaults | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Order ticket"
        # The profile's `ticket` settings; without them, the documented defaults.
        self.defaults = defaults if defaults is not None else TicketDefaults()
        self.instrument: Instrument | None = None
        self.quote: Quote | None = None
        self.account = ""
        self.stop_gap = 0.02
        # An OCA group is built across instruments (AAPL or MSFT, whichever fills), so
        # its legs outlive a ticket; the mode does not (see open), and the pending legs
        # stay on screen while there are any.
        self.oca_legs: list[OrderSpec] = []
        self.modifying = ""  # order_ref of the working order being modified
        # The working order as the gateway holds it, while modifying: what the fields
        # started from, and what they cannot change (the account).
        self.modify_spec: OrderSpec | None = None
        self.combo: tuple[ComboLeg, ...] = ()  # a combination's legs, while modifying one
        self.combo_market: ComboMarket | None = None  # from the legs' usable quotes
        # What the ticket itself last put in each field: a field that differs was typed.
        self._placed: dict[str, FieldValue] = dict(PER_INSTRUMENT)
        self._form_con_id: int | None = None  # the instrument the fields were set up for
        self._price_pending = False  # the limit waits for a usable quote
        self._memory: dict[int, dict[str, FieldValue]] = {}  # con_id -> typed (remember)
        self._default_account = ""
        self._instrument_text = Text()

    def compose(self) -> ComposeResult:
        with Container(id="t-form"):
            # In the order Tab walks them, Qty right after the symbol (new and modify).
            yield _pair("Symbol", TextInput(placeholder="AAPL, ES, SPY 20261218 600 C",
                                            id="t-symbol"))
            yield _pair("Side", Cycler([Side.BUY.value, Side.SELL.value], id="t-side"))
            yield _pair("Qty", StepInput(1.0, id="t-qty", value="100"))
            yield _pair("Type", Cycler(ORDER_TYPES, OrderType.LMT.value, id="t-type"))
            yield _pair("Limit", StepInput(0.01, id="t-limit"))
            yield _pair("Stop", StepInput(0.01, id="t-stop"))
            yield _pair("Trail", TextInput(placeholder="1.25, 1%", id="t-trail"))
            yield _pair("TIF", Cycler([t.value for t in TimeInForce], id="t-tif"))
            # The box names itself; its label is only the slot for the focus mark.
            yield _pair("", ToggleBox("Outside RTH", id="t-rth"))
            yield _pair("Account", Cycler(["—"], id="t-account"))
            yield _pair("Mode", Cycler(["single", "bracket", "oca"], id="t-mode"))
            yield _pair("Take profit", TextInput(placeholder="1.5%", id="t-tp", value="1.5%"),
                        only="bracket")
            yield _pair("Stop loss", TextInput(placeholder="0.75%", id="t-sl",
                                               value="0.75%"), only="bracket")
            yield _pair("OCA type", Cycler(["1", "2", "3"], id="t-oca-type"), only="oca")
        yield Static("", id="t-bracket")
        yield Static("", id="t-oca")
        yield Static("", id="t-legs")
        yield Static("", id="t-quote")  # the instrument (or why there is none), its quote
        yield Static("", id="t-checks")

    def on_mount(self) -> None:
        self._set_modifying("", None)
        self._show_mode()

    def on_resize(self, event: events.Resize) -> None:
        self._reflow()

    def _reflow(self) -> None:
        """Pack the shown pairs into rows of the ticket's width; the last pair of a row
        spans what is left of it, so the next starts a row (the grid never wraps a span)."""
        width = self.size.width
        form = self.query_one("#t-form", Container)
        if width <= 0:
            return
        pairs = [p for p in form.query_children(FieldPair) if p.display]
        used, last, last_span = 0, None, 0
        for pair in pairs:
            span = min(pair.natural_width(), width)
            if last is not None and used + span > width:
                last.styles.column_span = last_span + width - used
                used = 0
            pair.styles.column_span = span
            last, last_span = pair, span
            used += span
        if last is not None:
            last.styles.column_span = last_span + width - used
        form.styles.grid_size_columns = width

    def _show_mode(self) -> None:
        """What the mode shows: the bracket's fields and figures, the OCA type and group
        (also while a group is pending on a single ticket)."""
        mode = self.mode
        oca_shown = mode == "oca" or bool(self.oca_legs)
        for pair in self.query_one("#t-form", Container).query_children(FieldPair):
            if pair.only:
                pair.display = mode == pair.only
        self.query_one("#t-bracket", Static).display = mode == "bracket"
        self.query_one("#t-oca", Static).display = oca_shown
        self._reflow()

    # --- the fields as values ---------------------------------------------------------
    def _get(self, field: str) -> FieldValue:
        widget = self.query_one(f"#{field}")
        if isinstance(widget, (Input, Cycler, Checkbox)):
            return widget.value
        raise TypeError(f"#{field} is not a field")

    def _set(self, field: str, value: FieldValue) -> None:
        widget = self.query_one(f"#{field}")
        if isinstance(widget, Input):
            widget.value = str(value)
            widget.cursor_position = len(widget.value)
        elif isinstance(widget, Cycler):
            widget.set_value(str(value))
        elif isinstance(widget, Checkbox):
            widget.value = bool(value)

    def _place(self, field: str, value: FieldValue | float) -> None:
        """Put a value the trader did not type (a default, the quote, a working order)."""
        widget = self.query_one(f"#{field}")
        if isinstance(widget, StepInput) and isinstance(value, float | int) \
                and not isinstance(value, bool):
            widget.set_number(float(value))
        else:
            self._set(field, value)  # type: ignore[arg-type]
        self._placed[field] = self._get(field)

    def _typed(self, field: str) -> bool:
        return self._get(field) != self._placed.get(field, PER_INSTRUMENT.get(field, ""))

    def _remember(self) -> None:
        """Keep what was typed for this instrument (profile `ticket.remember`): only typed
        values, so a price that came from the quote is taken fresh next time."""
        if (self.defaults.remember and self._form_con_id is not None and not self.modifying
                and self.is_mounted):
            self._memory[self._form_con_id] = {f: self._get(f) for f in PER_INSTRUMENT
                                               if self._typed(f)}

    def _reset_fields(self) -> None:
        for field, value in PER_INSTRUMENT.items():
            self._place(field, value)
        self._form_con_id = None
        self._price_pending = False

    def _start_from(self, inst: Instrument) -> None:
        """The instrument's own defaults, in every field the trader has not typed into
        since the ticket opened (typing while the symbol resolves is kept)."""
        saved = self._memory.get(inst.con_id, {}) if self.defaults.remember else {}
        for field, value in saved.items():
            if not self._typed(field):
                self._set(field, value)  # not placed: still the trader's, remembered again
        if not self._typed("t-qty"):
            qty = self.defaults.quantity.get(inst.sec_type, inst.size_increment)
            self._place("t-qty", float(qty))
        self._price_pending = (self.defaults.price_from is not PriceFrom.NONE
                               and not self._typed("t-limit"))
        self._form_con_id = inst.con_id

    def _start_price(self, quote: Quote) -> float | None:
        """The limit a new ticket starts from, by `ticket.price_from`, on the tick."""
        buy = Side(self.query_one("#t-side", Cycler).value) is Side.BUY
        tick = self.instrument.min_tick if self.instrument else 0.01
        how = self.defaults.price_from
        if how is PriceFrom.TOUCH:
            price = quote.ask if buy else quote.bid
        elif how is PriceFrom.JOIN:
            price = quote.bid if buy else quote.ask
        elif how is PriceFrom.LAST:
            price = quote.last
        elif how is PriceFrom.MID and quote.mid is not None:
            # Between two ticks the mid is rounded away from the touch: never pay more.
            steps = quote.mid / tick
            return (math.floor(steps + 1e-9) if buy else math.ceil(steps - 1e-9)) * tick
        else:
            return None
        if price is None or price <= 0:
            return None
        return round(price / tick) * tick

    # --- opening and filling ---------------------------------------------------------
    def open(self, side: Side | None = None, symbol: str | None = None) -> None:
        """A new ticket. With a symbol, every per-instrument field starts from that
        instrument's defaults (set when it resolves); without one on an open ticket (a
        key pressed inside it), only the side changes."""
        if symbol is None and self.has_class("open") and not self.modifying:
            if side is not None:
                self.query_one("#t-side", Cycler).set_value(side.value)
            return
        self._remember()
        self._set_modifying("", None)
        self.border_title = "Order ticket"
        self._reset_fields()
        # The mode is never carried: F4 on a new ticket sends one order unless the trader
        # chooses otherwise here (F3 or the Mode field); a pending OCA group stays shown.
        self._place("t-mode", "single")
        self._reset_account()
        self.instrument = None  # never the last ticket's, while the new symbol resolves
        self.quote = None
        self._instrument_text = Text()
        self.query_one("#t-quote", Static).update("")
        self.show_checks([])
        self.add_class("open")
        self.post_message(self.Opened())
        if side is not None:
            self.query_one("#t-side", Cycler).set_value(side.value)
        self.query_one("#t-symbol", Input).value = symbol or ""
        if symbol:
            self.post_message(self.SymbolEntered(symbol))
            self.query_one("#t-qty", Input).focus()
        else:
            self.query_one("#t-symbol", Input).focus()

    def open_modify(self, order: OrderUpdate, spec: OrderSpec) -> None:
        """Load a working order into the fields; F4 (transmit) then re-places it. `spec`
        is the order as the gateway holds it (the pipeline's working_spec): every field
        starts from it, so what the trader does not change is re-sent as it was (a GTC
        order stays GTC). A combination's legs are listed, not editable."""
        self._remember()
        self._reset_fields()
        self._reset_account()
        self._set_modifying(order.order_ref, spec)
        what = "combination" if spec.combo else "order"
        self.border_title = f"Modify {what} {order.order_id} ({order.order_ref})"
        self.add_class("open")
        self.post_message(self.Opened())
        self._place("t-mode", "single")
        self.query_one("#t-symbol", Input).value = spec.display
        self.query_one("#t-side", Cycler).set_value(spec.side.value)
        self._place("t-type", spec.order_type.value)
        self.quote = None
        self._form_con_id = spec.instrument.con_id  # the order's values, not defaults
        self.set_instrument(spec.instrument)
        self._place("t-qty", float(spec.quantity))
        if spec.limit is not None:
            self._place("t-limit", float(spec.limit))
        if spec.stop is not None:
            self._place("t-stop", float(spec.stop))
        if spec.trail_percent is not None:
            self._place("t-trail", f"{plain(spec.trail_percent)}%")
        elif spec.trail_amount is not None:
            self._place("t-trail", plain(spec.trail_amount))
        self._place("t-tif", spec.tif.value)
        self._place("t-rth", spec.outside_rth)
        if spec.account:
            # Shown as it is, even an account this login's list does not hold: the field
            # cannot change in a modify, and what is sent is the order's own.
            account = self.query_one("#t-account", Cycler)
            account.value = spec.account
            account.refresh_value()
        self._show_legs()
        # Qty first, as on a new ticket: one field order for the trader's fingers.
        self.query_one("#t-qty", Input).focus()

    def _set_modifying(self, order_ref: str, spec: OrderSpec | None) -> None:
        """Into or out of modifying: what a modify keeps is shown but not editable."""
        self.modifying = order_ref
        self.modify_spec = spec
        self.combo = spec.combo if spec is not None else ()
        self.combo_market = None
        if not self.is_mounted:
            return
        for field in MODIFY_FIXED:
            self.query_one(field).disabled = spec is not None
        for field in COMBO_UNUSED:
            self.query_one(field).disabled = bool(self.combo)
        self.query_one("#t-limit", StepInput).signed = bool(self.combo)
        if not self.combo:
            self.query_one("#t-legs", Static).update("")
        self.query_one("#t-legs", Static).display = bool(self.combo)

    def _show_legs(self, quotes: Mapping[int, Quote] | None = None) -> None:
        """A combination's legs as this order trades them (a sold combination reverses
        each), with each leg's quote when there is one."""
        spec = self.modify_spec
        if spec is None or not spec.combo:
            return
        dec = fmt.tick_decimals(spec.instrument.min_tick)
        text = Text()
        for i, leg in enumerate(spec.combo):
            side = spec.leg_side(leg)
            text.append(f"leg {i + 1}: ", style="dim")
            text.append(f"{side.value} {plain(spec.leg_quantity(leg))} "
                        f"{leg.instrument.display}", style="bold")
            text.append(f"  (ratio {leg.ratio})", style="dim")
            q = (quotes or {}).get(leg.instrument.con_id)
            if q is not None:
                text.append(f"  {fmt.price(q.bid, dec)} × {fmt.price(q.ask, dec)}", style="dim")
            if i < len(spec.combo) - 1:
                text.append("\n")
        self.query_one("#t-legs", Static).update(text)

    def show_leg_quotes(self, quotes: Mapping[int, Quote], stale: Collection[int]) -> None:
        """A combination's market from its legs' quotes (the app feeds them, by conId):
        the net natural price and mid, only from legs whose quotes are live, fresh and
        unflagged, as the combination's own checks require."""
        spec = self.modify_spec
        if spec is None or not spec.combo:
            return
        usable = {cid: q for cid, q in quotes.items()
                  if cid not in stale and q.data_type is MarketDataType.LIVE and not q.flag}
        self.combo_market = combo_market(spec.combo, usable)
        self._show_legs(quotes)
        text = self._instrument_text.copy()
        if text:
            text.append(" │ ", style="dim")
        market = self.combo_market
        if market is None:
            missing = [leg.instrument.display for leg in spec.combo
                       if leg.instrument.con_id not in usable]
            text.append(f"net: no usable quote for {', '.join(missing)}", style="bold yellow")
        else:
            dec = fmt.tick_decimals(spec.instrument.min_tick)
            natural = market.natural(Side(self.query_one("#t-side", Cycler).value))
            text.append("net natural ", style="dim")
            text.append(fmt.price(natural, dec))
            text.append("   mid ", style="dim")
            text.append(fmt.price(market.mid, dec))
            text.append(f"   ({fmt.price(market.bid, dec)} × {fmt.price(market.ask, dec)}; "
                        "a debit is positive, a credit negative)", style="dim")
        self.query_one("#t-quote", Static).update(text)

    def action_close(self) -> None:
        self._remember()
        self._set_modifying("", None)
        self.border_title = "Order ticket"
        self.remove_class("open")
        self.post_message(self.Closed())

    def set_instrument(self, inst: Instrument | None, error: str = "") -> None:
        self.instrument = inst
        if inst is None:
            self._instrument_text = Text(error or "", style="bold red")
            self.query_one("#t-quote", Static).update(self._instrument_text)
            return
        name = self.modify_spec.display if self.modify_spec is not None else inst.display
        self._instrument_text = Text(f"{name} tick {plain(inst.min_tick)} "
                                     f"×{plain(inst.multiplier)}", style="dim")
        self.query_one("#t-quote", Static).update(self._instrument_text)
        for field in ("#t-limit", "#t-stop"):
            self.query_one(field, StepInput).step = inst.min_tick
        self.query_one("#t-qty", StepInput).step = inst.size_increment
        if inst.con_id != self._form_con_id:
            if self._form_con_id is not None:
                # Another symbol typed into an open ticket: nothing typed for the last
                # instrument applies to this one.
                self._remember()
                self._reset_fields()
                self.quote = None
            self._start_from(inst)
        self.post_message(self.Edited())

    def show_quote(self, quote: Quote | None, stale: bool) -> None:
        if self.combo:
            return  # a combination has no quote of its own: see show_leg_quotes
        self.quote = quote
        usable = (quote is not None and not stale and quote.data_type is MarketDataType.LIVE
                  and not quote.flag)
        if self._price_pending and self._typed("t-limit"):
            self._price_pending = False  # the trader's price wins, even before the quote's
        if usable and self._price_pending and self.instrument is not None:
            # Only a live, fresh, unflagged quote prices a new ticket; otherwise the limit
            # stays empty until one arrives or the trader types one.
            assert quote is not None
            price = self._start_price(quote)
            if price is not None:
                self._place("t-limit", price)
                self._price_pending = False
        text = self._instrument_text.copy()
        if text:
            text.append(" │ ", style="dim")
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
            if quote.flag:
                text.append(f"   {quote.flag.upper()}", style="bold red")
            elif stale:
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
        q, market = self.quote, self.combo_market
        if self.combo and market is not None:
            # A combination's net prices from its legs; it has no last trade of its own.
            value: float | None = {"bid": market.bid, "ask": market.ask,
                                   "mid": market.mid}.get(which)
        elif q is not None and not self.combo:
            value = {"bid": q.bid, "ask": q.ask, "mid": q.mid, "last": q.last}[which]
        else:
            return
        if value is None:
            return
        target = "#t-stop" if self.query_one("#t-type", Cycler).value in ("STP",) else "#t-limit"
        field = self.query_one(target, StepInput)
        tick = self.instrument.min_tick if self.instrument else 0.01
        field.set_number(round(value / tick) * tick)

    # --- building --------------------------------------------------------------------
    def set_accounts(self, accounts: list[str], default: str) -> None:
        """The accounts this login manages (and the profile allows); default first. A
        choice made on the open ticket stays while it is still allowed: a status update
        must not switch the account under the trader."""
        cycler = self.query_one("#t-account", Cycler)
        current = cycler.value
        cycler.values = accounts or ["—"]
        self._default_account = default if default in cycler.values else cycler.values[0]
        cycler.value = current if current in accounts else self._default_account
        cycler.refresh_value()
        # Account ids differ in length: the field is as wide as the longest.
        pair = cycler.parent
        if isinstance(pair, FieldPair):
            pair.fit()
        self._reflow()

    def _reset_account(self) -> None:
        # A new ticket goes to the session's account, never silently to the last one's.
        cycler = self.query_one("#t-account", Cycler)
        if self._default_account in cycler.values:
            cycler.value = self._default_account
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
        label = self.query_one("#t-bracket", Static)
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

    def action_build(self) -> None:
        if self.modifying:
            self.show_checks([], "a working order is modified here: cancel it to build a "
                                 "combination")
            return
        inst = self.instrument
        if inst is None or inst.sec_type not in (SecType.OPT, SecType.FOP):
            self.show_checks([], "the strategy builder starts from an option: enter one, "
                                 "or B on an underlying")
            return
        try:
            quantity = float(self.query_one("#t-qty", Input).value)
        except ValueError:
            quantity = 0.0
        if quantity < 1 or quantity != int(quantity):
            self.show_checks([], "qty: a combination is a whole number of contracts, 1 or more")
            return
        side = Side(self.query_one("#t-side", Cycler).value)
        self.post_message(self.BuildRequested(ComboLeg(inst, side), int(quantity)))

    def action_oca_clear(self) -> None:
        self.oca_legs.clear()
        self._show_oca()
        self.post_message(self.Edited())

    def _show_oca(self) -> None:
        legs = "; ".join(s.describe() for s in self.oca_legs)
        if self.mode != "oca" and self.oca_legs:
            # Shown while the group waits, so a new ticket never hides it: F4 here sends
            # this one order; F3 adds it to the group instead.
            text = Text(f"OCA group pending ({len(self.oca_legs)}): {legs} — F3 adds this "
                        f"order, shift+F3 clears", style="yellow")
        else:
            text = Text(f"{len(self.oca_legs)}: {legs or 'F3 adds the order above'}")
        self.query_one("#t-oca", Static).update(text)
        self._show_mode()

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
            # A modify keeps the order's account, whichever the login's accounts are.
            account=(self.modify_spec.account if self.modify_spec is not None
                     else self.account_choice or self.account))

    def _build_spec(self) -> OrderSpec:
        return build_spec(self.form(), self.instrument, self.combo)

    # --- events ----------------------------------------------------------------------
    # The focused field's label carries ▸: colour alone (the ANSI theme, monochrome, a
    # plain capture over SSH) cannot show where the next keystroke goes.
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._mark(event.widget.id, True)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._mark(event.widget.id, False)

    def _mark(self, field_id: str | None, focused: bool) -> None:
        for label in self.query(FieldLabel):
            if label.for_id == field_id:
                label.mark(focused)

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
