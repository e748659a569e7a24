"""The option chain: one expiry of an underlying's options, calls | strike | puts, with
bid, ask, mid, IV, delta, volume and open interest; in-the-money sides shaded; strikes
centred on the money. Only the strikes on screen are quoted (IB limits the login's
market-data lines): moving the window subscribes the new rows and releases the old, and
escape releases them all. Legs bought or sold at the cursor gather at the bottom, for the
strategy builder.

A greek is never passed off as live: delayed, frozen, refused or stale sides carry a
mark in their first column, and the head says how many.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from ibterm.broker.quotes import CHAIN_SCREEN, part_holder
from ibterm.broker.session import BrokerSession
from ibterm.domain.greeks import OptionChain, OptionQuote, atm_index, in_the_money
from ibterm.domain.instrument import Instrument, Right, SecType, format_strike
from ibterm.domain.orders import ComboLeg, Side
from ibterm.domain.quote import MarketDataType
from ibterm.tui import format as fmt
from ibterm.tui.theme import rich_colour
from ibterm.tui.widgets.full_screen import FullScreen, StatusScreen, close_key, keys_key
from ibterm.tui.widgets.help import binding_rows

# Narrower than this, the volume columns go and the numbers are a character narrower.
WIDE = 100
# Narrower than this, the open-interest columns go (they change once a day: the first to
# give way).
WIDEST = 112

# A side's mark: why its numbers are not the live market (" " when they are).
MARK_TEXT = {"~": "stale", "D": "delayed", "F": "frozen", "✖": "no quote"}
_TYPE_MARK = {MarketDataType.DELAYED: "D", MarketDataType.DELAYED_FROZEN: "D",
              MarketDataType.FROZEN: "F"}


@dataclass(frozen=True, slots=True)
class ChainSide:
    """One option of a strike row as drawn: its quote, whether it is in the money, and
    its mark (see MARK_TEXT)."""

    inst: Instrument | None
    quote: OptionQuote | None
    itm: bool
    mark: str


@dataclass(frozen=True, slots=True)
class ChainRow:
    strike: float
    call: ChainSide
    put: ChainSide
    atm: bool


def side_mark(quote: OptionQuote | None, refused: bool, now: float, stale_after: float,
              link_up: bool = True) -> str:
    """A side's mark; with the link down every figure shown is its last, so stale."""
    if refused:
        return "✖"
    if quote is None:
        return " "  # waiting for its first quote: nothing shown to be mistaken
    if not link_up:
        return "~"
    if not quote.quote.data_type.is_live:
        return _TYPE_MARK[quote.quote.data_type]
    return "~" if quote.stale(now, stale_after) else " "


def _columns(width: int) -> list[tuple[str, int, Callable[[OptionQuote], str]]]:
    """The columns of one side that fit a view `width` characters wide."""
    wide = width >= WIDE
    p = 7 if wide else 6

    def greek_iv(q: OptionQuote) -> str:
        g = q.greeks
        return fmt.DASH if g is None or g.iv is None else f"{g.iv * 100:.1f}"

    def greek_delta(q: OptionQuote) -> str:
        g = q.greeks
        if g is None or g.delta is None:
            return fmt.DASH
        return fmt.price(round(g.delta, 2) + 0.0, 2)  # + 0.0: a tiny put delta reads 0.00, unsigned

    cols: list[tuple[str, int, Callable[[OptionQuote], str]]] = [
        ("Bid", p, lambda q: fmt.price(q.quote.bid)),
        ("Ask", p, lambda q: fmt.price(q.quote.ask)),
        ("Mid", p, lambda q: fmt.price(q.quote.mid)),
        ("IV%", 5, greek_iv),
        ("Δ", 5, greek_delta),
    ]
    if wide:
        cols.append(("Vol", 6, lambda q: fmt.compact(q.quote.volume)))
    if width >= WIDEST:
        cols.append(("OI", 6, lambda q: fmt.compact(q.open_interest)))
    return cols


_STRIKE = 9


class ChainView(Widget, can_focus=True):
    """Draws the rows the chain screen gives it; each row's text is kept until that row
    changes, so a batch of ticks re-renders only the rows it touched."""

    DEFAULT_CSS = """
    ChainView { height: 1fr; width: 100%; background: $surface; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows: tuple[ChainRow, ...] = ()
        self.cursor: tuple[float, Right] | None = None
        self.message = "Loading the chain…"
        self._drawn: dict[tuple[object, ...], Text] = {}

    @property
    def row_count(self) -> int:
        """The strike rows that fit under the header."""
        return max(1, self.size.height - 1)

    def show(self, rows: Sequence[ChainRow], cursor: tuple[float, Right] | None,
             message: str = "") -> None:
        self.rows, self.cursor, self.message = tuple(rows), cursor, message
        self.refresh()

    def _colour(self, name: str) -> str:
        return rich_colour(self.app.theme_variables.get(name, "default"))

    def render(self) -> RenderResult:
        if not self.rows:
            return Text(self.message, style="italic")
        cols = _columns(self.size.width)
        call_head = " " + " ".join(f"{name:>{w}}" for name, w, _ in cols)
        put_head = " " + " ".join(f"{name:>{w}}" for name, w, _ in reversed(cols))
        head = call_head + f"{'Strike':^{_STRIKE}}" + put_head
        # The strikes down the middle of the screen, where the eye looks for them.
        pad = " " * max(0, (self.size.width - len(head)) // 2)
        lines = [Text(pad + head, style="bold")]
        itm = f"on {self._colour('panel')}"
        drawn: dict[tuple[object, ...], Text] = {}
        for row in self.rows:
            key = (row, self.cursor, len(cols), itm, pad)
            line = self._drawn.get(key) or Text(pad) + self._line(row, cols, itm)
            drawn[key] = line
            lines.append(line)
        self._drawn = drawn
        return Text("\n", no_wrap=True, overflow="crop").join(lines)

    def _line(self, row: ChainRow, cols: list[tuple[str, int, Callable[[OptionQuote], str]]],
              itm: str) -> Text:
        line = Text()
        for right, side in ((Right.CALL, row.call), (Right.PUT, row.put)):
            q = side.quote
            cells = [(f"{get(q) if q is not None else '':>{w}}") for _, w, get in cols]
            if right is Right.PUT:
                cells.reverse()
            text = (side.mark + " " + " ".join(cells)) if right is Right.CALL else (
                " ".join(cells) + " " + side.mark)
            style = itm if side.itm else ""
            if side.mark != " ":
                style += " dim"
            if self.cursor == (row.strike, right):
                style += " reverse"
            line.append(text, style.strip())
            if right is Right.CALL:
                strike = format_strike(row.strike)
                line.append(f"{('▶' + strike) if row.atm else strike:^{_STRIKE}}",
                            "bold" if self.cursor is not None
                            and self.cursor[0] == row.strike else "")
        return line


class ChainScreen(StatusScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        close_key("chain-close"),
        Binding("up", "row(-1)", "Strike up", show=False, id="chain-row-up"),
        Binding("down", "row(1)", "Strike down", show=False, id="chain-row-down"),
        Binding("left", "side('C')", "Calls", show=False, id="chain-calls"),
        Binding("right", "side('P')", "Puts", show=False, id="chain-puts"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="chain-page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="chain-page-down"),
        Binding("left_square_bracket", "expiry(-1)", "Earlier expiry", id="chain-expiry-prev"),
        Binding("right_square_bracket", "expiry(1)", "Later expiry", id="chain-expiry-next"),
        Binding("space", "centre", "Centre on the money", show=False, id="chain-centre"),
        Binding("b", "leg('BUY')", "Buy leg", id="chain-buy"),
        Binding("s", "leg('SELL')", "Sell leg", id="chain-sell"),
        Binding("backspace", "remove_leg", "Remove last leg", show=False,
                id="chain-remove-leg"),
        Binding("enter", "build", "Strategy builder", id="chain-build"),
        keys_key("chain-keys"),
    ]
    HEAD = "chain-head"
    DEFAULT_CSS = """
    ChainScreen { background: $background; }
    ChainScreen #chain-head { height: 1; padding: 0 1; }
    ChainScreen #chain-pane { height: 1fr; border: round $primary;
                              border-title-color: $primary; }
    ChainScreen #chain-legs { height: auto; max-height: 5; padding: 0 1;
                              border-top: solid $panel-lighten-2; }
    """

    def __init__(self, session: BrokerSession, underlying: Instrument,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 safety_keys: dict[str, str] | None = None) -> None:
        super().__init__(session, wall_clock, safety_keys)
        self.underlying = underlying
        self.chain: OptionChain | None = None
        self.expiry = 0  # the index of the expiry shown in chain.expiries
        self.strikes: list[float] = []
        self.options: dict[tuple[float, Right], Instrument] = {}
        self.top = 0  # the index in strikes of the first row on screen
        self.row = 0  # the cursor's strike, as an index in strikes
        self.side = Right.CALL
        self.following = True  # centred on the money until the trader moves
        self.centred_on_price = False
        self.rows: list[ChainRow] = []
        self.legs: list[ComboLeg] = []
        self.quantity = 1
        self.message = "Loading the chain…"
        self._watched: tuple[Instrument, ...] = ()

    def compose_view(self) -> ComposeResult:
        yield ChainView(id="chain-pane")
        yield Static(id="chain-legs")

    def on_mount(self) -> None:
        self.view = self.query_one(ChainView)
        self.view.focus()
        self.session.quotes_for(part_holder(CHAIN_SCREEN, self), [self.underlying])
        # The keys the hints name, as the keymap binds them now.
        self.key_names = {key_id: keys.split(", ")[0]
                     for keys, key_id, _ in binding_rows(self.app, [self])}
        self._show_legs()
        self.load_chain()
        self.draw_every_refresh()

    def on_unmount(self) -> None:
        # However the screen goes (escape, the app quitting), every line goes back:
        # the options' and the underlying's (kept if the watchlist or another part
        # holds it).
        self.session.options.stop()
        self.session.quotes_for(part_holder(CHAIN_SCREEN, self), ())

    @property
    def hidden(self) -> bool:
        """Under another full screen (the builder), even with a dialog over that; not
        under a dialog alone, which leaves the chain in sight. (Textual's is_current says
        True below a translucent screen.)"""
        stack = self.app.screen_stack
        above = stack[stack.index(self) + 1:] if self in stack else []
        return any(isinstance(screen, FullScreen) for screen in above)

    def on_screen_suspend(self) -> None:
        # Under the builder nothing of the chain is seen: its lines are free for what is
        # (the builder's legs), and taken again on return.
        if self.hidden:
            self.session.options.stop()
            self._watched = ()

    def on_screen_resume(self) -> None:
        self._watch()

    # --- loading -------------------------------------------------------------------------
    @work(group="chain-expiries", exclusive=True, exit_on_error=False)
    async def load_chain(self) -> None:
        try:
            chain, why = await self.session.options.chain(self.underlying)
        except ConnectionError:
            chain, why = None, "not connected"
        if chain is None:
            self.message = f"No chain for {self.underlying.display}: {why}"
            self._redraw()
            return
        self.chain = chain
        self.load_expiry()

    @work(group="chain-load", exclusive=True, exit_on_error=False)
    async def load_expiry(self) -> None:
        chain = self.chain
        assert chain is not None
        expiry = chain.expiries[self.expiry]
        self.session.options.stop()
        self.strikes, self.options, self.rows = [], {}, []
        self.message = f"Loading {fmt_expiry(expiry)}…"
        self._redraw()
        try:
            options = await self.session.options.options(self.underlying, expiry)
        except ConnectionError:
            options = []
        if chain.expiries[self.expiry] != expiry:
            return  # the trader has moved on meanwhile
        self.options = {(o.strike, o.right): o for o in options if o.right is not None}
        self.strikes = sorted({o.strike for o in options})
        if not self.strikes:
            self.message = f"No options listed for {fmt_expiry(expiry)}"
        self.following = True
        self.centred_on_price = False
        self._centre(self.session.mark(self.underlying.con_id))
        self._watch()
        self._redraw()

    # --- the window and what it quotes -------------------------------------------------
    def _centre(self, price: float | None) -> None:
        if not self.strikes:
            return
        self.row = atm_index(self.strikes, price)
        self.top = self._clamp_top(self.row - self.view.row_count // 2)
        self.centred_on_price = price is not None

    def _clamp_top(self, top: int) -> int:
        return max(0, min(top, len(self.strikes) - self.view.row_count))

    def _window(self) -> list[float]:
        return self.strikes[self.top:self.top + self.view.row_count]

    def _on_screen(self) -> tuple[Instrument, ...]:
        return tuple(inst for strike in self._window() for right in (Right.CALL, Right.PUT)
                     if (inst := self.options.get((strike, right))) is not None)

    def _watch(self) -> None:
        """Quote the strikes on screen, and only those."""
        self._watched = self._on_screen()
        self.session.options.watch(self._watched)

    def under_price(self) -> float | None:
        price = self.session.mark(self.underlying.con_id)
        if price is not None:
            return price
        # No underlying quote (yet): the price IB computed the greeks on.
        for q in (self.session.options.quote(i.con_id) for i in self.options.values()):
            if q is not None and q.greeks is not None and q.greeks.und_price is not None:
                return q.greeks.und_price
        return None

    # --- drawing -------------------------------------------------------------------------
    def refresh_view(self) -> None:
        if self.hidden:
            return
        session = self.session
        changed = session.options.take_changed()
        price = self.under_price()
        if self.following and not self.centred_on_price and price is not None and self.strikes:
            self._centre(price)
            self._watch()
        if self.strikes:
            self.top = self._clamp_top(self.top)  # the screen may have grown or shrunk
            self.row = max(self.top, min(self.row, self.top + self.view.row_count - 1))
            if self._watched != self._on_screen():
                self._watch()
        now, stale_after = session.clock(), session.profile.stale_after
        link_up = session.connected
        atm = atm_index(self.strikes, price) if price is not None and self.strikes else -1
        rows = []
        for i, strike in enumerate(self._window(), start=self.top):
            sides = []
            for right in (Right.CALL, Right.PUT):
                inst = self.options.get((strike, right))
                q = session.options.quote(inst.con_id) if inst is not None else None
                refused = inst is not None and inst.con_id in session.options.refused
                sides.append(ChainSide(inst, q, in_the_money(right, strike, price),
                                       side_mark(q, refused, now, stale_after, link_up)))
            rows.append(ChainRow(strike, sides[0], sides[1], i == atm))
        self.rows = rows
        cursor = (self.strikes[self.row], self.side) if self.strikes else None
        drawn = (tuple(rows), cursor, self.message, self.view.size)
        if drawn != self._drawn or changed:
            self._drawn = drawn
            self.view.show(rows, cursor, self.message)
        self._show_head(price)
        self.show_status(session.quote(self.underlying.con_id))

    def _show_head(self, price: float | None) -> None:
        head = Text.assemble((self.underlying.display, "bold"),
                             f"  {fmt.price(price)}  │ ")
        chain = self.chain
        if chain is not None:
            for i, expiry in enumerate(chain.expiries[max(0, self.expiry - 2):self.expiry + 4],
                                       start=max(0, self.expiry - 2)):
                head.append(f" {fmt_expiry(expiry)} ", "bold reverse" if i == self.expiry
                            else "dim")
            head.append(f"  {self.key_names.get('chain-expiry-prev', '')} "
                        f"{self.key_names.get('chain-expiry-next', '')} expiry", "dim")
        marks = {m: sum(1 for r in self.rows for s in (r.call, r.put) if s.mark == m)
                 for m in MARK_TEXT}
        said = [f"{m} {n} {MARK_TEXT[m]}" for m, n in marks.items() if n]
        if said:
            head.append("  " + ", ".join(said), "bold")
        self.show_head(head)
        title = f"Chain {self.underlying.symbol}"
        if chain is not None:
            title += f" {fmt_expiry(chain.expiries[self.expiry])}"
        title += f" · {self.session.options.subscribed} quoted"
        self.set_title(self.view, title)

    def _show_legs(self) -> None:
        legs = self.query_one("#chain-legs", Static)
        if not self.legs:
            legs.update(Text(f"Strategy: no legs yet ({self.key_names.get('chain-buy')} buys, "
                             f"{self.key_names.get('chain-sell')} sells the option at the cursor)",
                             style="dim"))
            return
        text = Text.assemble(("Strategy: ", "bold"))
        text.append(", ".join(f"{'+' if leg.action is Side.BUY else fmt.MINUS}{leg.ratio} "
                              f"{leg.instrument.display}" for leg in self.legs))
        text.append(f"   {self.key_names.get('chain-build')}: builder · "
                    f"{self.key_names.get('chain-remove-leg')}: remove the last", "dim")
        legs.update(text)

    # --- keys --------------------------------------------------------------------------
    def action_row(self, step: int) -> None:
        if not self.strikes:
            return
        self.following = False
        self.row = max(0, min(len(self.strikes) - 1, self.row + step))
        count = self.view.row_count
        if self.row < self.top:
            self.top = self.row
        elif self.row >= self.top + count:
            self.top = self.row - count + 1
        self._watch()
        self._redraw()

    def action_page(self, step: int) -> None:
        if not self.strikes:
            return
        count = self.view.row_count
        self.following = False
        self.top = self._clamp_top(self.top + step * count)
        self.row = max(self.top, min(self.top + count - 1, self.row + step * count,
                                     len(self.strikes) - 1))
        self._watch()
        self._redraw()

    def action_side(self, right: str) -> None:
        self.side = Right(right)
        self._redraw()

    def action_expiry(self, step: int) -> None:
        chain = self.chain
        if chain is None:
            return
        index = max(0, min(len(chain.expiries) - 1, self.expiry + step))
        if index != self.expiry:
            self.expiry = index
            self.load_expiry()

    def action_centre(self) -> None:
        self.following = True
        self._centre(self.under_price())
        self._watch()
        self._redraw()

    def cursor_option(self) -> Instrument | None:
        if not self.strikes:
            return None
        return self.options.get((self.strikes[self.row], self.side))

    def action_leg(self, action: str) -> None:
        inst = self.cursor_option()
        if inst is None:
            self.notify("No option at the cursor", severity="warning")
            return
        self.legs = add_leg(self.legs, inst, Side(action))
        self._show_legs()

    def action_remove_leg(self) -> None:
        if self.legs:
            self.legs.pop()
            self._show_legs()

    def action_build(self) -> None:
        if not self.legs:
            self.notify("No legs yet: b buys, s sells the option at the cursor",
                        severity="warning")
            return
        # The builder is its own screen; loaded when first asked for.
        from ibterm.tui.widgets.builder import StrategyBuilder

        self.app.push_screen(StrategyBuilder(self.underlying, list(self.legs), self.quantity))


def add_leg(legs: list[ComboLeg], inst: Instrument, action: Side) -> list[ComboLeg]:
    """The legs with one more of this option bought or sold: the same option the same way
    again is one more of it in the leg's ratio; the other way takes one off."""
    out = list(legs)
    for i, leg in enumerate(out):
        if leg.instrument.con_id != inst.con_id:
            continue
        ratio = leg.ratio + (1 if leg.action is action else -1)
        if ratio == 0:
            del out[i]
        else:
            out[i] = ComboLeg(inst, leg.action, ratio)
        return out
    out.append(ComboLeg(inst, action, 1))
    return out


def fmt_expiry(expiry: str) -> str:
    """20261218 as 18 Dec 26."""
    try:
        return dt.datetime.strptime(expiry[:8], "%Y%m%d").strftime("%d %b %y")
    except ValueError:
        return expiry


def chain_underlying(inst: Instrument, known: Callable[[Instrument], Instrument | None]
                     ) -> Instrument | None:
    """The instrument whose chain opens on this one: itself for a stock or an index, an
    option's underlying (when known)."""
    if inst.sec_type in (SecType.STK, SecType.IND):
        return inst
    if inst.sec_type is SecType.OPT:
        return known(inst)
    return None
