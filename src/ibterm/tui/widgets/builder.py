"""The strategy builder: legs on one underlying, from the option chain's screen or from a
template, adjusted leg by leg, with what they cost (net at mid and natural), can make or
lose at expiry, their greeks, and the margin preview of the whole change against the
current book (the local calculator and IB's what-if of the BAG beside it), all before
anything is sent. F4 sends the strategy as ONE combination order through the pipeline
(checks, the confirmation listing every leg, the journal, the blotter).

The screen only renders and asks: lookups and the figures run in workers, the risk
modules (polars, plotext) load with the first preview.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import DataTable, OptionList, Static

from ibterm.broker.approval import Outcome
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.quotes import BUILDER, part_holder
from ibterm.broker.session import BrokerSession
from ibterm.broker.strategy_legs import leg_instrument, option_chain
from ibterm.domain.combo import (
    ComboMarket,
    combo_instrument,
    combo_market,
    combo_multiplier,
    combo_problem,
    legs_for,
)
from ibterm.domain.greeks import OptionChain
from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain
from ibterm.domain.orders import ComboLeg, OrderIntent, OrderSpec, OrderType, Side
from ibterm.domain.strategy import (
    ExpiryFigures,
    Template,
    combo_greeks,
    default_expiry,
    expiry_figures,
    flipped,
    net_limit,
    plan_of,
    shifted,
    template_legs,
    with_ratio,
)
from ibterm.domain.ticket_form import TicketError, parse_number
from ibterm.tui import format as fmt
from ibterm.tui.widgets.confirm import AskText
from ibterm.tui.widgets.full_screen import FullScreen, close_key, keys_key
from ibterm.tui.widgets.preview import MarginPreviewPane

if TYPE_CHECKING:
    from ibterm.risk.book import VolCache
    from ibterm.risk.preview import PreviewCalculator, PreviewRequest

# The figures wait for the keys to pause this long before they are computed.
DEBOUNCE = 0.3
# A template's width when none is asked: this many of the chain's strike steps.
WIDTH_STEPS = 2
GREEKS = ("delta", "gamma", "theta", "vega")
# The figures are computed again when the underlying has moved about this much (0.1%).
SPOT_STEP = 0.001


class BuilderHost(Protocol):
    """What the builder takes from the app: the session and the one order pipeline, the
    clock, and the margin preview's calculator and request, shared with the ticket's."""

    session: BrokerSession
    pipeline: OrderPipeline
    wall_clock: Callable[[], dt.datetime]

    async def _calculator(self) -> PreviewCalculator: ...

    def _preview_request(self, intent: OrderIntent) -> PreviewRequest: ...


class PriceMode(StrEnum):
    """What the order's limit is: the combination's mid, its natural price (what trades
    at once), a typed net price, or no limit (market)."""

    MID = "mid"
    NATURAL = "natural"
    TYPED = "typed"
    MARKET = "market"


@dataclass(frozen=True, slots=True)
class Pricing:
    mode: PriceMode = PriceMode.MID
    typed: float | None = None

    def limit(self, market: ComboMarket | None, side: Side = Side.BUY) -> float | None:
        """The net limit of one combination ordered `side` (`market` that of its legs as
        listed, bought): bought, positive a debit; sold (its legs reversed), positive a
        credit. None for market or while the legs have no two-sided quotes. A typed limit
        is already in the order's direction."""
        if self.mode is PriceMode.TYPED:
            return self.typed
        if self.mode is PriceMode.MARKET or market is None:
            return None
        sent = market if side is Side.BUY else market.reversed()
        return sent.mid if self.mode is PriceMode.MID else sent.natural(side)


def strike_step(chain: OptionChain, spot: float) -> float:
    """The gap between the listed strikes around the money."""
    strikes = chain.strikes
    if len(strikes) < 2:
        return 1.0
    i = min(range(len(strikes) - 1), key=lambda k: abs(strikes[k] - spot))
    return strikes[i + 1] - strikes[i]


def limit_words(side: Side, limit: float | None) -> str:
    """An order's net limit as a trader says it: sold at 2.39 is 2.39 credit."""
    return net_words(None if limit is None else limit * side.sign)


def net_words(price: float | None) -> str:
    """A net price as a trader says it: 4.20 debit, 2.00 credit."""
    if price is None:
        return fmt.DASH
    if abs(price) < 1e-12:
        return "0 even"
    return f"{abs(price):.2f} {'debit' if price > 0 else 'credit'}"


def figures_text(figures: ExpiryFigures | None) -> Text:
    text = Text()
    if figures is None:
        text.append("At expiry   legs expire on different days: see the chart", style="dim")
        return text

    def money(value: float | None) -> str:
        return "unbounded" if value is None else fmt.money(value)

    text.append("Max profit  ", style="dim")
    text.append(money(figures.max_profit), style="green")
    text.append("   Max loss  ", style="dim")
    text.append(money(figures.max_loss), style="red")
    text.append("   Breakevens  ", style="dim")
    text.append(", ".join(plain(b) for b in figures.breakevens) or fmt.DASH)
    return text


class TemplateChooser(ModalScreen[Template | None]):
    """The templates to start a strategy from: enter picks, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="template-cancel"),
    ]
    DEFAULT_CSS = """
    TemplateChooser { align: center middle; }
    TemplateChooser > Vertical { width: 40; height: auto; border: thick $primary;
                                 background: $surface; padding: 0 1; }
    TemplateChooser OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Strategy on {self.symbol}", style="bold"))
            yield OptionList(*[t.value for t in Template])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(list(Template)[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class StrategyBuilder(FullScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        close_key("builder-close"),
        Binding("f4", "send", "Send", id="builder-send"),
        Binding("t", "template", "Template", id="builder-template"),
        Binding("w", "width", "Width", show=False, id="builder-width"),
        Binding("right", "strike(1)", "Strike up", show=False, id="builder-strike-up"),
        Binding("left", "strike(-1)", "Strike down", show=False, id="builder-strike-down"),
        Binding("right_square_bracket", "expiry(1)", "Next expiry", show=False,
                id="builder-expiry-next"),
        Binding("left_square_bracket", "expiry(-1)", "Previous expiry", show=False,
                id="builder-expiry-previous"),
        Binding("r", "ratio(1)", "Ratio up", show=False, id="builder-ratio-up"),
        Binding("R", "ratio(-1)", "Ratio down", show=False, id="builder-ratio-down"),
        Binding("f", "flip", "Buy/sell leg", show=False, id="builder-flip"),
        Binding("x,delete", "remove", "Remove leg", show=False, id="builder-remove"),
        Binding("plus", "quantity(1)", "Quantity up", show=False, id="builder-quantity-up"),
        Binding("minus", "quantity(-1)", "Quantity down", show=False,
                id="builder-quantity-down"),
        Binding("n", "type_quantity", "Quantity", show=False, id="builder-quantity"),
        Binding("p", "price_mode", "Mid/natural/market", id="builder-price-mode"),
        Binding("l", "type_limit", "Limit", id="builder-limit"),
        Binding("d", "direction", "Buy/sell it", id="builder-direction"),
        keys_key("builder-keys"),
    ]
    DEFAULT_CSS = """
    StrategyBuilder { background: $background; }
    StrategyBuilder #b-main { width: 1fr; }
    StrategyBuilder #b-head, StrategyBuilder #b-summary { height: auto; padding: 0 1; }
    StrategyBuilder #b-legs { height: auto; max-height: 12; border: round $primary; }
    StrategyBuilder MarginPreviewPane { display: block; height: 1fr; }
    """

    def __init__(self, underlying: Instrument, legs: list[ComboLeg], quantity: int = 1) -> None:
        super().__init__()  # a full screen: the chain under it frees its lines
        self.underlying = underlying
        self.legs = list(legs)
        self.quantity = max(1, quantity)
        self.pricing = Pricing()
        # BUY or SELL the combination; None: a credit is sold at a positive price, a debit
        # bought, as traders and IB say them (`d` chooses).
        self.direction: Side | None = None
        # The direction the legs' first two-sided market chose, kept until they change:
        # a combination near zero cost must not flip side with every tick.
        self._auto_side: Side | None = None
        self.strategy = ""  # the template's name while its legs keep their shape
        self.chain: OptionChain | None = None
        self.width: float | None = None  # a template's width; None: WIDTH_STEPS strikes
        self.market: ComboMarket | None = None
        self.leg_greeks: list[dict[str, float] | None] = [None] * len(self.legs)
        self._vols: VolCache | None = None
        self._table_legs: tuple[ComboLeg, ...] | None = None
        self._previewed: tuple[object, ...] = ()
        self._asked_ib: tuple[object, ...] = ()  # the legs and quantity IB was asked about

    @property
    def ibterm(self) -> BuilderHost:
        return cast("BuilderHost", self.app)

    def compose_view(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="b-main"):
                yield Static(id="b-head")
                table: DataTable[str | Text] = DataTable(id="b-legs", cursor_type="row",
                                                         zebra_stripes=True)
                yield table
                yield Static(id="b-summary")
            yield MarginPreviewPane(self.ibterm.session.profile.whatif_disagreement,
                                    id="b-preview")

    def on_mount(self) -> None:
        self.table = cast("DataTable[str | Text]", self.query_one("#b-legs", DataTable))
        self.table.add_columns("Action", "Ratio", "Instrument", "Bid", "Ask", "Mid", "Delta")
        self.pane = self.query_one(MarginPreviewPane)
        self.pane.show_message("add legs: t starts from a template")
        self.table.focus()
        self._quote_legs()
        self.load_chain()
        self.draw_every_refresh()
        if not self.legs:  # opened on its own: start from a template
            self.action_template()

    def _quote_legs(self) -> None:
        """The builder quotes its underlying and exactly its legs now: a leg removed
        gives its quote back."""
        self.ibterm.session.quotes_for(part_holder(BUILDER, self),
                                       [self.underlying, *(leg.instrument for leg in self.legs)])
        self.leg_greeks = [None] * len(self.legs)

    def on_unmount(self) -> None:
        # However the builder goes (escape, sent, the app quitting), its quotes go back.
        self.ibterm.session.quotes_for(part_holder(BUILDER, self), ())

    # --- the order ----------------------------------------------------------------------
    @property
    def side(self) -> Side:
        """Whether the combination is bought or sold: as chosen, else sold when its legs
        as listed bring a credit at their mid."""
        if self.direction is not None:
            return self.direction
        if self._auto_side is None and self.market is not None:
            self._auto_side = Side.SELL if self.market.mid < 0 else Side.BUY
        return self._auto_side or Side.BUY

    def order(self) -> OrderSpec | None:
        """The strategy as one combination order: bought with each leg's action as listed,
        or sold with each reversed (IB reverses them back) at a positive credit; None while
        it cannot be one or has no price to send at."""
        if combo_problem(self.legs):
            return None
        side = self.side
        legs = legs_for(self.legs, side)
        inst = combo_instrument(legs)
        account = self.ibterm.session.account
        if self.pricing.mode is PriceMode.MARKET:
            return OrderSpec(inst, side, self.quantity, OrderType.MKT, account=account,
                             combo=legs, strategy=self.strategy)
        limit = self.pricing.limit(self.market, side)
        if limit is None:
            return None
        return OrderSpec(inst, side, self.quantity, OrderType.LMT,
                         limit=net_limit(inst, limit), account=account, combo=legs,
                         strategy=self.strategy)

    def order_words(self) -> str:
        """The order as sent, in words: what the preview and IB's answer are about (a
        combination without a price yet is named by its legs)."""
        spec = self.order()
        if spec is not None:
            return spec.describe()
        return " + ".join(leg.describe() for leg in self.legs)

    def legs_intent(self) -> OrderIntent:
        """The change as the local calculator previews it: every leg an order of its own,
        so it nets against the book leg by leg."""
        account = self.ibterm.session.account
        return OrderIntent(tuple(OrderSpec(leg.instrument, leg.action,
                                           leg.ratio * self.quantity, OrderType.MKT,
                                           account=account) for leg in self.legs),
                           source="builder")

    # --- drawing ------------------------------------------------------------------------
    def refresh_view(self) -> None:
        session = self.ibterm.session
        self.market = combo_market(self.legs, session.quotes()) if self.legs else None
        self._draw_table()
        limit = self.pricing.limit(self.market, self.side)
        shown = (tuple(self.legs), self.quantity, self.pricing, self.side, self.strategy,
                 self.market,
                 tuple(map(repr, self.leg_greeks)), session.mark(self.underlying.con_id))
        if shown != self._drawn:
            self._drawn = shown
            self._draw_head()
            self._draw_summary(limit)
        # The margin preview, the chart and the greeks follow the legs, the quantity and
        # the underlying in steps of SPOT_STEP: not every tick of a leg's quote.
        spot = session.mark(self.underlying.con_id)
        previewed = (tuple(self.legs), self.quantity, self.side, self.market is not None,
                     None if not spot or spot < 0 else round(math.log(spot) / SPOT_STEP))
        if previewed != self._previewed and self.legs:
            self._previewed = previewed
            self.preview_local()
            if previewed[:3] != self._asked_ib:
                self.preview_ib()

    def _draw_head(self) -> None:
        session = self.ibterm.session
        head = Text.assemble(("Strategy builder ", "bold"), (self.underlying.display, "bold"))
        spot = session.mark(self.underlying.con_id)
        if spot is not None:
            head.append(f"  {plain(round(spot, 4))}")
        head.append(f"  │ {self.side.value} qty {self.quantity}", "bold")
        mode = self.pricing.mode
        head.append(f"  │ price {mode.value}" + (
            f" {plain(self.pricing.typed)}" if mode is PriceMode.TYPED
            and self.pricing.typed is not None else ""), "bold")
        if self.chain is not None:
            head.append(f"  │ width {plain(self._width())}", "dim")
        self.query_one("#b-head", Static).update(head)

    def _draw_table(self) -> None:
        table = self.table
        legs = tuple(self.legs)
        rows = []
        for i, leg in enumerate(legs):
            q = self.ibterm.session.quote(leg.instrument.con_id)
            d = fmt.tick_decimals(leg.instrument.min_tick)
            greeks = self.leg_greeks[i] if i < len(self.leg_greeks) else None
            action = Text(leg.action.value, style="green" if leg.action is Side.BUY else "red")
            rows.append((action, str(leg.ratio), leg.instrument.display,
                         fmt.price(q.bid if q else None, d), fmt.price(q.ask if q else None, d),
                         fmt.price(q.mid if q else None, d),
                         f"{greeks['delta']:.2f}" if greeks else fmt.DASH))
        if legs != self._table_legs:
            # A leg added, moved or removed: the rows are rebuilt, the cursor kept.
            self._table_legs = legs
            cursor = table.cursor_row
            table.clear()
            for i, row in enumerate(rows):
                table.add_row(*row, key=str(i))
            if rows:
                table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
            return
        for i, row in enumerate(rows):
            for col, value in enumerate(row[3:], start=3):
                table.update_cell_at(Coordinate(i, col), value, update_width=True)

    def _draw_summary(self, limit: float | None) -> None:
        text = Text()
        problem = combo_problem(self.legs) if self.legs else "no legs yet: t for a template"
        m = self.market
        text.append("Net         ", style="dim")
        if m is None:
            text.append("waiting for every leg's bid and ask")
        else:
            text.append(f"mid {net_words(m.mid)}   natural {net_words(m.natural(Side.BUY))}")
        text.append("\nOrder       ", style="dim")
        side = self.side
        name = f" {self.strategy}" if self.strategy else ""
        if self.pricing.mode is PriceMode.MARKET:
            text.append(f"{side.value} {self.quantity}{name} MKT", style="bold")
        else:
            text.append(f"{side.value} {self.quantity}{name} LMT {limit_words(side, limit)}",
                        style="bold")
        if self.legs and limit is not None:
            text.append("\n")
            # The figures take the net as the legs listed pay it: a sale's credit negative.
            text.append_text(figures_text(expiry_figures(self.legs, limit * side.sign,
                                                         self.quantity,
                                                         combo_multiplier(self.legs))))
        greeks = combo_greeks(self.legs, self.quantity, self.leg_greeks) if self.legs else None
        if greeks is not None:
            text.append("\nGreeks      ", style="dim")
            text.append("   ".join(f"{name} {greeks[name]:,.2f}" for name in GREEKS))
        if problem:
            text.append(f"\n✖ {problem}", style="bold red")
        self.query_one("#b-summary", Static).update(text)

    # --- the figures ----------------------------------------------------------------------
    @work(exclusive=True, group="builder-preview", exit_on_error=False)
    async def preview_local(self) -> None:
        await asyncio.sleep(DEBOUNCE)
        app = self.ibterm
        calculator = await app._calculator()
        from ibterm.risk.book import VolCache
        from ibterm.risk.leg_greeks import leg_greeks

        intent = self.legs_intent()
        request = app._preview_request(intent)
        if self._vols is None:
            self._vols = VolCache()
        legs = list(self.legs)
        spot = app.session.mark(self.underlying.con_id)
        greeks = await asyncio.to_thread(leg_greeks, legs, request.mark, spot, request.as_of,
                                         request.rate, self._vols)
        if legs == self.legs:
            self.leg_greeks = greeks
        try:
            preview = await asyncio.to_thread(calculator.preview, request)
        except Exception as exc:  # a bad figure must not take the screen down: say it
            self.pane.show_message(f"✖ the preview failed: {exc}")
            return
        # The figures are the legs' netted one by one; the words, the order as sent.
        self.pane.show_local(preview, self.order_words())

    @work(exclusive=True, group="builder-ib", exit_on_error=False)
    async def preview_ib(self) -> None:
        """IB's what-if of the combination as one BAG, beside the local figures of its
        legs."""
        await asyncio.sleep(DEBOUNCE)
        spec = self.order()
        if spec is None:
            return
        self._asked_ib = (tuple(self.legs), self.quantity, self.side)
        order = self.order_words()
        note = "the combination as one order"
        self.pane.ib_asking(order, note)
        answer = await self.ibterm.session.what_if(spec)
        self.pane.show_ib(order, answer, note)

    # --- the chain and the legs -----------------------------------------------------------
    @work(exclusive=True, group="builder-chain", exit_on_error=False)
    async def load_chain(self) -> None:
        chain, why = await option_chain(self.ibterm.session, self.underlying)
        if chain is None:
            self.notify(f"No option chain: {why}", severity="warning")
            return
        self.chain = chain
        self._drawn = ()  # the head gains the width: drawn again at the next refresh

    def _width(self) -> float:
        if self.width is not None:
            return self.width
        spot = self.ibterm.session.mark(self.underlying.con_id)
        assert self.chain is not None
        return WIDTH_STEPS * strike_step(self.chain, spot or self.chain.strikes[0])

    def set_legs(self, legs: list[ComboLeg]) -> None:
        self.legs = legs
        self._auto_side = None  # new legs: their market says again
        self._quote_legs()
        self.refresh_view()

    @work(exclusive=True, group="builder-legs", exit_on_error=False)
    async def action_template(self) -> None:
        template = await self.app.push_screen_wait(TemplateChooser(self.underlying.display))
        if template is None:
            return
        session = self.ibterm.session
        if self.chain is None:
            self.chain, why = await option_chain(session, self.underlying)
            if self.chain is None:
                self.notify(f"No option chain: {why}", severity="warning")
                return
        spot = session.mark(self.underlying.con_id)
        if spot is None:
            self.notify(f"{self.underlying.display} has no price yet", severity="warning")
            return
        try:
            plans = template_legs(template, self.chain, spot, self._width(),
                                  default_expiry(self.chain, self.ibterm.wall_clock().date()))
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        legs = []
        for plan in plans:
            inst, why = await leg_instrument(session, self.underlying, plan)
            if inst is None:
                self.notify(f"{template}: {why}", severity="warning")
                return
            legs.append(ComboLeg(inst, plan.action, plan.ratio))
        self.strategy = template.value
        self.set_legs(legs)

    def _cursor_leg(self) -> int | None:
        if not self.legs:
            return None
        return min(max(self.table.cursor_row, 0), len(self.legs) - 1)

    @work(exclusive=True, group="builder-legs", exit_on_error=False)
    async def _move_leg(self, strikes: int, expiries: int) -> None:
        i = self._cursor_leg()
        if i is None or self.chain is None:
            return
        leg = self.legs[i]
        plan = shifted(plan_of(leg), self.chain, strikes, expiries)
        if plan is None:
            self.notify("No further strike or expiry for this leg", severity="warning")
            return
        inst, why = await leg_instrument(self.ibterm.session, self.underlying, plan)
        if inst is None:
            self.notify(why, severity="warning")
            return
        self.set_legs([*self.legs[:i], ComboLeg(inst, leg.action, leg.ratio),
                       *self.legs[i + 1:]])

    def action_strike(self, step: int) -> None:
        self._move_leg(step, 0)

    def action_expiry(self, step: int) -> None:
        self._move_leg(0, step)

    def _replace_leg(self, change: ComboLeg) -> None:
        i = self._cursor_leg()
        if i is not None:
            self.set_legs([*self.legs[:i], change, *self.legs[i + 1:]])

    def action_ratio(self, step: int) -> None:
        i = self._cursor_leg()
        if i is not None:
            self.strategy = ""  # no longer the template's shape
            self._replace_leg(with_ratio(self.legs[i], step))

    def action_flip(self) -> None:
        i = self._cursor_leg()
        if i is not None:
            self.strategy = ""
            self._replace_leg(flipped(self.legs[i]))

    def action_remove(self) -> None:
        i = self._cursor_leg()
        if i is not None:
            self.strategy = ""
            self.set_legs([*self.legs[:i], *self.legs[i + 1:]])

    # --- quantity and price ---------------------------------------------------------------
    def action_quantity(self, step: int) -> None:
        self.quantity = max(1, self.quantity + step)
        self.refresh_view()

    async def _ask_number(self, question: str, field: str) -> float | None:
        text = await self.app.push_screen_wait(AskText(question))
        if text is None:
            return None
        try:
            return parse_number(text, field)
        except TicketError as exc:
            self.notify(str(exc), severity="warning")
            return None

    @work(group="builder-ask", exit_on_error=False)
    async def action_type_quantity(self) -> None:
        value = await self._ask_number(f"Combinations to buy (now {self.quantity}):",
                                       "quantity")
        if value is not None and value >= 1 and value == int(value):
            self.quantity = int(value)
            self.refresh_view()
        elif value is not None:
            self.notify("A whole number of combinations, at least 1", severity="warning")

    @work(group="builder-ask", exit_on_error=False)
    async def action_width(self) -> None:
        value = await self._ask_number("A template's width (strike distance):", "width")
        if value is not None and value > 0:
            self.width = value
            self._redraw()

    @work(group="builder-ask", exit_on_error=False)
    async def action_type_limit(self) -> None:
        side = self.side
        words = ("bought: a debit, a credit negative" if side is Side.BUY
                 else "sold: a credit, a debit negative")
        value = await self._ask_number(f"Net limit per combination ({words}):", "limit")
        if value is not None:
            self.direction = side  # the price typed is this direction's
            self.pricing = Pricing(PriceMode.TYPED, value)
            self.refresh_view()

    def action_direction(self) -> None:
        """BUY the combination ⇄ SELL it with every leg reversed: the same trade, its
        price said the other way (a typed limit changes sign with it)."""
        now = self.side
        self.direction = now.opposite
        if self.pricing.mode is PriceMode.TYPED and self.pricing.typed is not None:
            self.pricing = Pricing(PriceMode.TYPED, -self.pricing.typed)
        self.refresh_view()

    def action_price_mode(self) -> None:
        cycle = [PriceMode.MID, PriceMode.NATURAL, PriceMode.MARKET]
        mode = self.pricing.mode
        following = cycle[(cycle.index(mode) + 1) % len(cycle)] if mode in cycle else cycle[0]
        self.pricing = Pricing(following)
        self.refresh_view()

    # --- sending ----------------------------------------------------------------------------
    @work(group="builder-send", exit_on_error=False)
    async def action_send(self) -> None:
        problem = combo_problem(self.legs)
        if problem:
            self.notify(f"Not sent: {problem}", severity="error")
            return
        spec = self.order()
        if spec is None:
            self.notify("Not sent: no net price yet (the legs have no two-sided quotes)",
                        severity="error")
            return
        intent = OrderIntent((spec,), source="builder")
        result = await self.ibterm.pipeline.submit(intent)
        if result.outcome is Outcome.QUEUED:
            self.notify(f"Sent: {intent.describe()}", timeout=4)
            self.dismiss(None)
        elif result.outcome is Outcome.REJECTED:
            self.notify(f"Not sent: {result.message}", severity="error", timeout=10)
