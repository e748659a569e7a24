"""The ibterm Textual app: status bar, watchlist, positions, orders and the order ticket,
over one broker session and the one order pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal, journal_path
from ibterm.broker.ledger import PipelineUpdate
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.quotes import POSITION, UNDERLYING, part_holder
from ibterm.broker.reconcile import Discrepancy
from ibterm.broker.session import BrokerSession, SessionUpdate
from ibterm.broker.working import NotModifiable
from ibterm.config import yamlfile
from ibterm.config.keymaps import Keymap
from ibterm.config.macros import MacroError, build_intent
from ibterm.config.settings import data_dir, user_dir
from ibterm.config.write import save_watchlist
from ibterm.domain.bars import BarSize
from ibterm.domain.connection import ConnectionState
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.levels import PriceLevel, price_levels
from ibterm.domain.orders import CheckResult, Confirmation, IntentKind, OrderIntent, Side
from ibterm.domain.position_groups import (
    Grouping,
    GroupingRequest,
    OptionInputs,
)
from ibterm.domain.quote import MarketDataType, quote_mark
from ibterm.domain.symbols import SymbolError
from ibterm.domain.ticket_form import TicketError
from ibterm.domain.what_if import IbWhatIf
from ibterm.files.logs import write_crash_report
from ibterm.tui.commands import IbtermCommands
from ibterm.tui.format import tick_decimals
from ibterm.tui.theme import APP_VARIABLE_DEFAULTS, DEFAULT_THEME, LoadedThemes, load_themes
from ibterm.tui.widgets.chain import ChainScreen, chain_underlying
from ibterm.tui.widgets.chart import ChartView, message_of, title_of
from ibterm.tui.widgets.confirm import (
    AskText,
    AskYesNo,
    ConfirmOrder,
    QuitChoice,
    QuitDialog,
)
from ibterm.tui.widgets.depth_screen import DepthScreen
from ibterm.tui.widgets.executions import ExecutionLog, ExecutionsScreen
from ibterm.tui.widgets.fields import StepInput
from ibterm.tui.widgets.footer import Footer
from ibterm.tui.widgets.help import HelpScreen, binding_rows, live_bindings
from ibterm.tui.widgets.orders import OrdersTable
from ibterm.tui.widgets.pane import Pane
from ibterm.tui.widgets.positions import AccountLine, PositionsTable
from ibterm.tui.widgets.preview import MarginPreviewPane
from ibterm.tui.widgets.reconcile import ReconcileScreen
from ibterm.tui.widgets.status_bar import StatusBar
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable

if TYPE_CHECKING:
    from ibterm.risk.grouping import PositionGrouper
    from ibterm.risk.preview import PreviewCalculator, PreviewRequest

log = logging.getLogger("ibterm.tui")

# Quotes are applied to the tables in batches at this rate, whatever the tick rate.
REFRESH_INTERVAL = 0.25
# The margin preview waits for the typing to pause this long before it computes.
PREVIEW_DEBOUNCE = 0.15
PANES = ("watchlist", "positions", "orders")
# The chart follows the cursor once it has rested on an instrument for two of these: a
# cursor run down the watchlist must not spend IB's history requests (60 in ten minutes).
CHART_REFRESH = 0.4
# After SIGHUP, how long the normal shutdown may take before the process just ends.
HANGUP_GRACE = 5.0
# Quitting with "cancel all", how long the cancels may take to be confirmed.
CANCELS_GRACE = 3.0


def _make_calculator() -> tuple[PreviewCalculator, str]:
    """The calculator on the user's risk tables, else on the shipped ones and why."""
    from ibterm.risk.preview import PreviewCalculator
    from ibterm.risk.settings import RiskSettings, load_settings

    try:
        return PreviewCalculator(load_settings()), ""
    except yamlfile.FileProblems as exc:
        return PreviewCalculator(RiskSettings()), str(exc)


class IbtermApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "ibterm"
    COMMANDS = App.COMMANDS | {IbtermCommands}
    # The layout follows the terminal (app.tcss): under 110 columns the margin preview
    # takes the main area while the ticket is open (ctrl+r swaps) instead of squeezing
    # the panes; under 32 rows the panes drop their frames; under 20 only the focused
    # pane is open.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-tiny"), (20, "-short"), (32, "-tall")]
    # The status bar (mode, connection, trading state, kill key) stays on screen when a
    # pane is zoomed, and so do the ticket and the footer.
    ALLOW_IN_MAXIMIZED_VIEW = "StatusBar, Footer, OrderTicket"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_app", "Quit", id="quit"),
        Binding("question_mark", "show_help", "Keys", id="show-help"),
        Binding("tab", "focus_pane(1)", "Next pane", show=False, id="focus-next-pane"),
        Binding("shift+tab", "focus_pane(-1)", "Prev pane", show=False,
                id="focus-previous-pane"),
        Binding("w", "focus_named('watchlist')", "Watchlist", show=False, id="focus-watchlist"),
        Binding("p", "focus_named('positions')", "Positions", show=False, id="focus-positions"),
        Binding("o", "focus_named('orders')", "Orders", show=False, id="focus-orders"),
        Binding("b", "ticket('BUY')", "Buy", id="order-buy"),
        Binding("s", "ticket('SELL')", "Sell", id="order-sell"),
        Binding("f12", "kill_switch", "KILL", priority=True, id="kill-switch"),
        Binding("f10", "flatten", "Flatten", priority=True, id="flatten"),
        Binding("shift+f12", "cancel_all", "Cancel all orders", show=False, priority=True,
                id="cancel-all-orders"),
        Binding("f9", "resume_trading", "Resume", show=False, id="resume-trading"),
        Binding("z", "zoom", "Zoom pane", show=False, id="zoom-pane"),
        Binding("ctrl+r", "toggle_preview", "Preview or panes", show=False,
                id="toggle-preview"),
        Binding("r", "show_reconciliation", "Reconcile", show=False, id="show-reconciliation"),
        Binding("e", "show_executions", "Executions", show=False, id="show-executions"),
        Binding("v", "toggle_chart", "Chart", show=False, id="toggle-chart"),
        Binding("d", "open_depth", "Depth", show=False, id="open-depth"),
        Binding("O", "open_chain", "Option chain", show=False, id="open-chain"),
        Binding("B", "open_builder", "Strategy builder", show=False, id="open-builder"),
        *(Binding(key, f"chart_interval('{size.value}')", f"Chart {size.value}", show=False,
                  id=f"chart-{size.value.lower()}")
          for key, size in zip("12345", BarSize, strict=True)),
    ]

    def __init__(self, session: BrokerSession, journal: Journal | None = None,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 keymap: Keymap | None = None, themes: LoadedThemes | None = None,
                 config_file: Path | None = None, warnings: list[str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.wall_clock = wall_clock
        self.journal = journal or Journal(journal_path(data_dir()), session.name)
        self.pipeline = OrderPipeline(session, self.journal, self.confirm_order)
        self.reconciliation: list[Discrepancy] = []
        self.executions = ExecutionLog()
        # The local risk calculator, made when the first preview asks for it (_calculator).
        self._calculator_made: asyncio.Future[tuple[PreviewCalculator, str]] | None = None
        self._underlyings_asked: set[int] = set()
        # The positions pane's pairing and greeks (made in the first grouping's thread),
        # and the option positions whose quotes and underlyings it asked for.
        self._grouper: PositionGrouper | None = None
        self._positions_quoted: set[int] = set()
        self._removed: list[tuple[int, str]] = []  # watchlist rows removed: (index, entry)
        self._told_watch_errors: set[tuple[str, str]] = set()
        self.chart_size = BarSize.M5
        # The instrument the chart shows (con_id), and the one the cursor is on, waiting
        # to rest there before the chart asks for its bars.
        self._chart_con_id: int | None = None
        self._chart_next: int | None = None
        self._chart_asked: tuple[int, BarSize] | None = None
        self._chart_drawn: tuple[object, ...] = ()
        self._lines_shown: tuple[int, int] | None = None
        self.keymap = keymap
        # Watchlist edits are saved here (the profile's entry); None: the demo, not saved.
        self.config_file = config_file
        self.startup_warnings = warnings or []
        self.themes = themes if themes is not None else load_themes(user_dir("themes"))
        for theme in self.themes.themes.values():
            self.register_theme(theme)
        wanted = session.profile.theme
        self._theme_problem = ""
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            self._theme_problem = f"theme {wanted!r} is not available: using {DEFAULT_THEME}"
            self.theme = DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield StatusBar(self.session.name, self.session.mode, self.wall_clock, id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Pane(id="watchlist-pane", classes="pane") as pane:
                    pane.border_title = "Watchlist"
                    yield WatchlistTable(self.session.profile.stale_after, id="watchlist")
                with Pane(id="positions-pane", classes="pane") as pane:
                    pane.border_title = "Positions"
                    yield PositionsTable(id="positions")
                    yield AccountLine(id="account")
                with Pane(id="orders-pane", classes="pane") as pane:
                    pane.border_title = "Orders"
                    yield OrdersTable(self.session.profile.blotter_finished, id="orders")
            with Pane(id="chart-pane", classes="pane") as pane:
                pane.border_title = "Chart"
                yield ChartView(id="chart")
            yield MarginPreviewPane(self.session.profile.whatif_disagreement, id="preview")
        yield OrderTicket(self.session.profile.ticket, id="ticket")
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried on each refresh: a timer can tick while the app shuts down and
        # its DOM is already gone.
        self.watchlist = self.query_one(WatchlistTable)
        self.positions = self.query_one(PositionsTable)
        self.orders = self.query_one(OrdersTable)
        self.account_line = self.query_one(AccountLine)
        self.status_bar = self.query_one(StatusBar)
        self.ticket = self.query_one(OrderTicket)
        self.preview_pane = self.query_one(MarginPreviewPane)
        self.chart_view = self.query_one(ChartView)
        self.chart_pane = self.query_one("#chart-pane", Pane)
        self.query_one("#watchlist").focus()
        self._apply_keymap()
        self.status_bar.safety_keys = self.safety_keys()
        by_file: dict[str, list[str]] = {}
        for problem in self.themes.failures:
            by_file.setdefault(problem.path, []).append(str(problem))
        for lines in by_file.values():
            self.notify("\n".join(lines), title="Theme not loaded", severity="warning",
                        timeout=12)
        if self._theme_problem:
            self.notify(self._theme_problem, severity="warning", timeout=12)
        for warning in self.startup_warnings:
            self.notify(warning, title="Config", severity="warning", timeout=15)
        # The terminal going away (an SSH session dropped, tmux killed) ends the app the
        # normal way: session closed, journal closed, no process left spinning.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hang_up)
        # What start-up built (modules, the DOM, styles) lives as long as the app: kept
        # out of the collector's full passes, which a tick burst sets off every few socket
        # reads and which would walk it all each time (10% of the CPU of a burst).
        gc.freeze()
        self.set_interval(REFRESH_INTERVAL, self.refresh_from_session)
        self.set_interval(1.0, self._tick_clock)
        self.set_interval(CHART_REFRESH, self._refresh_chart)
        self.run_worker(self.session.start(), name="connect", exclusive=True,
                        exit_on_error=False)

    # --- applying the session's and the pipeline's changes ---------------------------
    def refresh_from_session(self) -> None:
        update = self.session.drain()
        orders = self.pipeline.drain()
        if not (update.status or update.watchlist is not None or update.quotes
                or update.positions is not None or update.account or update.notices
                or orders.orders or orders.notices or orders.state or orders.queued is not None
                or orders.fills or orders.commissions or orders.reconciliation is not None):
            return
        try:
            self._apply_all(update, orders)
        except NoMatches:
            # The DOM is being taken down (the app is closing): nothing left to show.
            return

    def _apply_all(self, update: SessionUpdate, orders: PipelineUpdate) -> None:
        with self.batch_update():
            self.apply(update)
            status_bar = self.status_bar
            if orders.orders:
                self.orders.apply(orders.orders)
            if orders.fills or orders.commissions:
                self.executions.add(orders.fills, orders.commissions)
            if orders.state is not None or orders.queued is not None:
                status_bar.update_state(trading=orders.state, queued=orders.queued)
            for notice in orders.notices:
                self._notify(notice.level, notice.message)
            if orders.reconciliation is not None:
                self.reconciliation = orders.reconciliation
                if orders.reconciliation:
                    self.push_screen(ReconcileScreen(orders.reconciliation))

    def apply(self, update: SessionUpdate) -> None:
        watchlist = self.watchlist
        status_bar = self.status_bar
        now = self.session.clock()
        if update.watchlist is not None:
            watchlist.set_items(update.watchlist)
            known = [q for item in update.watchlist
                     if item.instrument is not None and item.text not in watchlist.quotes
                     and (q := self.session.quote(item.instrument.con_id)) is not None]
            if known:
                # A row put back (undo) shows the quote the session already has, not
                # blanks until the next tick.
                watchlist.apply_quotes(known, now)
            for item in update.watchlist:
                # Each entry's error is told once (adding one re-sends the whole list).
                if item.error and (item.text, item.error) not in self._told_watch_errors:
                    self._told_watch_errors.add((item.text, item.error))
                    # The reason names the instrument itself ("SPY has no 602.5 call …").
                    self.notify(item.error, title="Watchlist",
                                severity="warning")
        if update.quotes:
            watchlist.apply_quotes(update.quotes, now)
            label = self._data_label(watchlist.data_types())
            if label != status_bar.data_label:
                # Only a change redraws the bar: each redraw lays the whole screen out.
                status_bar.update_state(data_label=label)
            self._refresh_ticket_quote()
        if update.positions is not None:
            self.positions.apply_positions(update.positions)
            self.group_positions()
        if update.account is not None:
            self.account_line.show(update.account)
        if update.status is not None:
            status_bar.update_state(status=update.status, account=self.session.account)
            if self.watchlist.link_up != self.session.connected:  # marked at once, not in 1 s
                self._tick_clock()
            ticket = self.ticket
            ticket.account = self.session.account
            ticket.stop_gap = self.session.profile.stop_gap
            allowed = self.session.profile.allowed_accounts
            accounts = [a for a in self.session.managed_accounts()
                        if not allowed or a in allowed]
            ticket.set_accounts(accounts, self.session.account)
        for notice in update.notices:
            self._notify(notice.level, notice.message)

    def _notify(self, level: str, message: str) -> None:
        severity = "information" if level == "info" else level
        self.notify(message, severity=severity, timeout=8)  # type: ignore[arg-type]

    def _tick_clock(self) -> None:
        self.watchlist.link_up = self.session.connected
        self.watchlist.refresh_ages(self.session.clock())
        if self._positions_quoted:
            self.group_positions()  # the option positions' greeks follow their quotes
        try:
            self._refresh_ticket_quote()
        except NoMatches:
            # As in refresh_from_session: the timer ticked while the DOM is taken down
            # (seen in CI as a crash at the end of a test).
            return
        if self.ticket.has_class("open"):
            # Prices move without the ticket changing: the figures follow them.
            self.preview_local()

    @staticmethod
    def _data_label(types: set[MarketDataType]) -> str:
        if not types:
            return "—"
        return "+".join(t.label for t in sorted(types))

    # --- the order ticket ------------------------------------------------------------
    def _refresh_ticket_quote(self) -> None:
        ticket = self.ticket
        if ticket.instrument is None or not ticket.has_class("open"):
            return
        now = self.session.clock()
        stale_after = self.session.profile.stale_after
        if ticket.combo:
            # A combination has no quote of its own: its market is its legs'.
            quotes = {leg.instrument.con_id: q for leg in ticket.combo
                      if (q := self.session.quote(leg.instrument.con_id)) is not None}
            ticket.show_leg_quotes(quotes, {cid for cid, q in quotes.items()
                                            if q.is_stale(now, stale_after)})
            return
        quote = self.session.quote(ticket.instrument.con_id)
        stale = quote is not None and quote.is_stale(now, stale_after)
        ticket.show_quote(quote, stale)

    def action_ticket(self, side: str, symbol: str | None = None) -> None:
        """Open the ticket for `symbol`, else for what the watchlist or the positions
        have under the cursor."""
        self.ticket.open(Side(side), symbol if symbol is not None else self._cursor_symbol())

    def _cursor_symbol(self) -> str | None:
        watchlist = self.watchlist
        if self.focused is watchlist and watchlist.items:
            item = watchlist.items[watchlist.cursor_row]
            return item.instrument.display if item.instrument else item.text
        if self.focused is self.positions:
            return self.positions.selected_symbol()
        return None

    @work(exclusive=True, group="resolve", exit_on_error=False)
    async def on_order_ticket_symbol_entered(self, event: OrderTicket.SymbolEntered) -> None:
        ticket = self.ticket
        inst, error = await self.session.resolve(event.text)
        ticket.set_instrument(inst, error)
        self.session.ticket_quotes([inst] if inst is not None else [])
        if inst is not None:
            self._refresh_ticket_quote()

    def on_order_ticket_edited(self, event: OrderTicket.Edited) -> None:
        ticket = self.ticket
        if ticket.mode == "bracket":
            ticket.show_bracket()
        if ticket.has_class("open"):
            self.preview_local()
            self.preview_ib()
        try:
            intent = ticket.build()
        except TicketError as exc:
            ticket.show_checks([], str(exc) if ticket.instrument else "")
            return
        ticket.show_checks(self.pipeline.check(intent))

    # --- the margin preview ----------------------------------------------------------
    def on_order_ticket_opened(self, event: OrderTicket.Opened) -> None:
        self.preview_pane.add_class("open")
        self.screen.add_class("-ticket-open")
        self._underlyings_asked.clear()  # a lookup that failed (disconnected) is tried again
        self.preview_local()
        self.preview_ib()

    async def _calculator(self) -> PreviewCalculator:
        """The local risk calculator, made on first use in a thread: its modules (polars
        among them) are the app's heaviest, and neither start-up nor the screen waits for
        them. The user's risk tables are read then: a bad file is reported once, with
        its PATH:LINE:COL, and the shipped tables are used."""
        if self._calculator_made is None:
            made = self._calculator_made = asyncio.ensure_future(
                asyncio.to_thread(_make_calculator))

            def report(done: asyncio.Future[tuple[PreviewCalculator, str]]) -> None:
                if not done.cancelled() and done.exception() is None and done.result()[1]:
                    self.notify(f"{done.result()[1]}\nThe shipped risk tables are used.",
                                title="Risk tables not loaded", severity="warning",
                                timeout=15)

            made.add_done_callback(report)
        # Shielded: a newer preview cancelling this one must not cancel the making.
        calculator, _problem = await asyncio.shield(self._calculator_made)
        return calculator

    def _preview_request(self, intent: OrderIntent) -> PreviewRequest:
        """The positions, prices and account values now, copied for the worker thread."""
        from ibterm.risk.preview import PreviewRequest  # loaded with the calculator

        s = self.session
        positions = tuple(s.positions())
        mark = {c: m for c, q in s.quotes().items() if (m := quote_mark(q)) is not None}
        options = [inst for inst in [p.instrument for p in positions]
                   + [leg.instrument for leg in intent.legs]
                   if inst.sec_type in (SecType.OPT, SecType.FOP)]
        underlying: dict[int, float] = {}
        for inst in options:
            price = s.underlying_price(inst)
            if price is not None:
                underlying[inst.con_id] = price
            elif inst.con_id not in self._underlyings_asked:
                self._underlyings_asked.add(inst.con_id)
                self.run_worker(s.ensure_underlying(inst), group="underlying", exit_on_error=False)
        profile = s.profile
        return PreviewRequest(intent, positions, mark, underlying,
                              s.account_summary().net_liquidation, s.account,
                              self.wall_clock().date(), profile.risk_rate, profile.margin_buffer)

    # --- the positions' strategies and greeks --------------------------------------
    def _grouping_request(self) -> GroupingRequest | None:
        """The positions and their options' prices now, copied for the worker thread;
        None without options (nothing to pair or price). Each option position's quote
        and its underlying's are asked for once."""
        s = self.session
        positions = self.positions.positions
        options: dict[int, OptionInputs] = {}
        for p in positions:
            inst = p.instrument
            if inst.sec_type not in (SecType.OPT, SecType.FOP):
                continue
            if inst.con_id not in self._positions_quoted:
                self._positions_quoted.add(inst.con_id)
                s.ensure_quote(inst, POSITION)
                self.run_worker(s.ensure_underlying(inst, part_holder(UNDERLYING, inst.con_id)),
                                group="underlying", exit_on_error=False)
            options[inst.con_id] = s.option_inputs(inst)
        # A position closed gives its quote and its underlying's back (each goes on
        # streaming only if a watchlist row, another position or part holds it).
        for con_id in self._positions_quoted - options.keys():
            self._positions_quoted.discard(con_id)
            s.release_quote(con_id, POSITION)
            s.quotes_for(part_holder(UNDERLYING, con_id), ())
        if not options:
            return None
        return GroupingRequest(tuple(positions), options, self.wall_clock().date(),
                               s.profile.risk_rate)

    def _group(self, request: GroupingRequest) -> Grouping:
        """In a worker thread: the calculator's modules load here, not with the app."""
        from ibterm.risk.grouping import PositionGrouper

        if self._grouper is None:
            self._grouper = PositionGrouper()
        return self._grouper.group(request)

    @work(exclusive=True, group="position-groups", exit_on_error=False)
    async def group_positions(self) -> None:
        """The positions' strategies and greeks, off the UI thread."""
        try:
            request = self._grouping_request()
        except NoMatches:
            return
        if request is None:
            self.positions.apply_grouping(Grouping())  # no options: no strategies
            return
        grouping = await asyncio.to_thread(self._group, request)
        self.positions.apply_grouping(grouping)

    # A preview that fails must never end the app: exit_on_error=False, and the ticket may
    # be gone by the time the debounce ends (the app shutting down).
    @work(exclusive=True, group="preview", exit_on_error=False)
    async def preview_local(self) -> None:
        """The local figures, off the UI thread; a newer change cancels an older one."""
        await asyncio.sleep(PREVIEW_DEBOUNCE)
        pane = self.preview_pane
        try:
            intent = self.ticket.build()
        except TicketError as exc:
            pane.show_message(str(exc))
            return
        except NoMatches:
            return
        calculator = await self._calculator()
        request = self._preview_request(intent)
        try:
            preview = await asyncio.to_thread(calculator.preview, request)
        except Exception as exc:  # a bad figure must not take the app down: say it, go on
            log.exception("margin preview failed")
            pane.show_message(f"✖ the preview failed: {exc}")
            return
        pane.show_local(preview)

    @work(exclusive=True, group="preview-ib", exit_on_error=False)
    async def preview_ib(self) -> None:
        """IB's own what-if, beside the local figures: only when the ticket changes."""
        await asyncio.sleep(PREVIEW_DEBOUNCE)
        try:
            intent = self.ticket.build()
        except (TicketError, NoMatches):
            return
        pane = self.preview_pane
        await self._calculator()  # its module words the order; loaded off the UI thread
        from ibterm.risk.preview import order_words

        order = order_words(intent)
        if intent.kind is IntentKind.BRACKET:
            legs, note = intent.legs[:1], "entry only: IB ignores bracket links"
        elif intent.kind is IntentKind.OCA:
            legs, note = intent.legs, f"the larger of {len(intent.legs)} orders"
        else:
            legs, note = intent.legs, ""
        pane.ib_asking(order, note)
        answers = [await self.session.what_if(spec) for spec in legs]
        good = [a for a in answers if a.ok]
        best: IbWhatIf = max(good, key=lambda a: a.init_change or 0.0) if good else answers[0]
        pane.show_ib(order, best, note)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Workers never end the app (exit_on_error=False): a failure is logged with its
        # traceback and said on screen, and the app goes on with its last good state.
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            log.error("%s failed", worker.name, exc_info=worker.error)
            self.notify(f"{worker.name} failed: {worker.error!r} (details in the log)",
                        title="Internal error", severity="error", timeout=15)

    def on_order_ticket_submit(self, event: OrderTicket.Submit) -> None:
        if event.modify_ref:
            self.modify(event.modify_ref, event.intent)
        else:
            self.submit(event.intent)

    def on_orders_table_modify_requested(self, event: OrdersTable.ModifyRequested) -> None:
        # The ticket starts from the order as the gateway holds it (its TIF, outside RTH,
        # account, a combination's legs), never from the blotter's summary of it.
        try:
            spec = self.pipeline.working_spec(event.order.order_ref)
        except NotModifiable as exc:
            self.notify(f"Not modified: {exc}", severity="warning")
            return
        self.ticket.open_modify(event.order, spec)
        self.session.ticket_quotes([leg.instrument for leg in spec.combo] or [spec.instrument])
        self._refresh_ticket_quote()

    @work(group="orders", exit_on_error=False)
    async def modify(self, order_ref: str, intent: OrderIntent) -> None:
        [spec] = intent.legs
        result = await self.pipeline.modify(order_ref, spec)
        if result.outcome is Outcome.QUEUED:
            self.notify(f"Modified: {spec.describe()}", timeout=4)
            self.ticket.action_close()
        elif result.outcome is Outcome.REJECTED:
            self.notify(f"Not modified: {result.message}", severity="error", timeout=10)

    def on_order_ticket_closed(self, event: OrderTicket.Closed) -> None:
        self.session.ticket_quotes(())  # its quotes given back (kept if others hold them)
        self.workers.cancel_group(self, "preview")
        self.workers.cancel_group(self, "preview-ib")
        self.preview_pane.remove_class("open")
        self.screen.remove_class("-ticket-open")
        self.query_one("#watchlist").focus()

    @work(group="orders", exit_on_error=False)
    async def submit(self, intent: OrderIntent) -> None:
        result = await self.pipeline.submit(intent)
        if result.outcome is Outcome.QUEUED:
            self.notify(f"Sent: {intent.describe()}", timeout=4)
            if intent.kind is IntentKind.OCA:
                self.ticket.action_oca_clear()
        elif result.outcome is Outcome.REJECTED:
            self.notify(f"Not sent: {result.message}", severity="error", timeout=10)

    async def confirm_order(self, intent: OrderIntent, checks: list[CheckResult]) -> Confirmation:
        """The pipeline's confirmation step: a modal the trader answers."""
        screen = ConfirmOrder(intent, checks, self.session.mode, self.session.account)
        return await self.push_screen_wait(screen)

    def on_orders_table_cancel_requested(self, event: OrdersTable.CancelRequested) -> None:
        if event.whole_instrument:
            order = self.orders.orders[event.order_ref]
            count = self.pipeline.cancel_instrument(order.instrument.con_id)
            self.notify(f"Cancelling {count} order(s) for {order.display}")
        elif not self.pipeline.cancel(event.order_ref):
            self.notify("That order is not working", severity="warning")

    # --- watchlist edits --------------------------------------------------------------
    @work(group="watchlist", exit_on_error=False)
    async def on_watchlist_table_edit_requested(self, event: WatchlistTable.EditRequested) -> None:
        if event.kind == "add":
            text = await self.push_screen_wait(AskText(
                "Add to the watchlist", "AAPL, ES, ES 202612, SPY 20261218 600 C, EUR.USD"))
            if text:
                await self._add_watch(text)
            return
        if event.kind == "undo":
            await self._undo_remove()
            return
        if not event.text:
            return
        if event.kind == "remove":
            index = next(i for i, item in enumerate(self.session.watchlist)
                         if item.text == event.text)
            self._removed.append((index, event.text))
            self.session.unwatch(event.text)
            undo = self.key_of("watchlist-undo", self.watchlist)
            self.notify(f"Removed {event.text} from the watchlist"
                        + (f" ({undo} puts it back)" if undo else ""))
        else:
            self.session.move_watch(event.text, -1 if event.kind == "up" else 1)
        self._save_watchlist()

    async def _undo_remove(self) -> None:
        """The last removed row back where it was (removals are undone newest first)."""
        if not self._removed:
            self.notify("Nothing to undo in the watchlist")
            return
        index, text = self._removed.pop()
        try:
            await self.session.add_watch(text)
        except (ValueError, SymbolError) as exc:
            self.notify(f"Not restored: {exc}", severity="warning")
            return
        self.session.move_watch(text, index - (len(self.session.watchlist) - 1))
        self._save_watchlist()
        self.notify(f"{text} is back in the watchlist")

    @work(group="watchlist", exit_on_error=False)
    async def action_add_to_watchlist(self, text: str) -> None:
        await self._add_watch(text)

    async def _add_watch(self, text: str) -> None:
        """Add, say what went wrong if anything, save what was added."""
        try:
            item = await self.session.add_watch(text)
        except (ValueError, SymbolError) as exc:
            self.notify(f"Not added: {exc}", severity="warning")
            return
        if item.error:
            self._told_watch_errors.add((item.text, item.error))
            self.notify(item.error, severity="warning")
        self._save_watchlist()

    def _save_watchlist(self) -> None:
        if self.config_file is None:
            return
        symbols = [item.text for item in self.session.watchlist]
        path, profile = self.config_file, self.session.name

        def save() -> None:
            try:
                save_watchlist(path, profile, symbols)
            except (OSError, KeyError, ValueError, yamlfile.FileProblems) as exc:
                self.call_from_thread(self.notify, f"Watchlist not saved to {path}: {exc}",
                                      severity="error", timeout=10)

        self.run_worker(save, thread=True, group="save-watchlist", exclusive=True,
                        exit_on_error=False)

    # --- the command palette's lists (tui.commands.PaletteSource) ---------------------
    def palette_macros(self) -> list[tuple[str, str]]:
        return [(m.describe(), m.key) for m in (self.keymap.macros if self.keymap else ())]

    def palette_symbols(self) -> list[str]:
        return [item.instrument.display if item.instrument else item.text
                for item in self.session.watchlist]

    # --- keymap and macros -----------------------------------------------------------
    def _apply_keymap(self) -> None:
        if self.keymap is None:
            return
        self.set_keymap(self.keymap.bindings)
        for i, macro in enumerate(self.keymap.macros):
            self.bind(macro.key, f"macro({i})", description=macro.describe(), show=False)

    def current_instrument(self) -> Instrument | None:
        """The ticket's instrument when it is open, else the row under the cursor."""
        if self.ticket.has_class("open") and self.ticket.instrument is not None:
            return self.ticket.instrument
        if self.focused is self.positions:
            # Never fall back to another pane's row: an order on the wrong instrument is
            # worse than none.
            symbol = self.positions.selected_symbol()
            return next((inst for inst in self.session.instruments.values()
                         if inst.display == symbol), None)
        items = self.watchlist.items
        if items and 0 <= self.watchlist.cursor_row < len(items):
            return items[self.watchlist.cursor_row].instrument
        return None

    def action_macro(self, index: int) -> None:
        assert self.keymap is not None
        macro = self.keymap.macros[index]
        if macro.action == "set-qty":
            qty = self.ticket.query_one("#t-qty", StepInput)
            qty.set_number(macro.args.qty)  # type: ignore[attr-defined]
            return
        if macro.action == "flatten":
            self.run_macro_flatten(macro.args.symbol)  # type: ignore[attr-defined]
            return
        inst = self.current_instrument()
        if inst is None:
            self.notify(f"{macro.describe()}: no instrument under the cursor", severity="warning")
            return
        self.session.ensure_quote(inst)
        try:
            intent = build_intent(macro, inst, self.session.quote(inst.con_id),
                                  self.session.clock(), self.session.profile.stale_after,
                                  self.session.account)
        except MacroError as exc:
            self.notify(f"Not sent: {exc}", severity="error", timeout=10)
            return
        self.submit(intent)

    @work(exclusive=True, group="safety", exit_on_error=False)
    async def run_macro_flatten(self, symbol: str) -> None:
        intent = self.pipeline.flatten_intent()
        if intent is not None and symbol == "current":
            inst = self.current_instrument()
            legs = tuple(leg for leg in intent.legs
                         if inst is not None and leg.instrument.con_id == inst.con_id)
            intent = replace(intent, legs=legs) if legs else None
        if intent is None:
            self.notify("Nothing to flatten")
            return
        # The same question as F10, whatever the profile's confirmations say.
        if not await self.push_screen_wait(AskYesNo(
                "FLATTEN: close these positions with marketable limit orders?",
                self._flatten_detail(intent))):
            return
        result = await self.pipeline.submit(intent)
        if result.outcome is Outcome.REJECTED:
            self.notify(f"Flatten not sent: {result.message}", severity="error")

    # --- kill switch, flatten, resume ------------------------------------------------
    def key_of(self, binding_id: str, node: object | None = None) -> str:
        """The key (as shown) that runs a binding in the keymap in force, or ""."""
        for key, bindings in live_bindings(self, node or self).key_to_bindings.items():
            if any(b.id == binding_id for b in bindings):
                return self.get_key_display(bindings[0].with_key(key))
        return ""

    def safety_keys(self) -> dict[str, str]:
        """The kill switch's, flatten's and resume's keys as bound now (keymaps can move
        them), for the status bar."""
        shown = {label: self.key_of(binding_id)
                 for binding_id, label in (("kill-switch", "kill"), ("flatten", "flatten"),
                                           ("resume-trading", "resume"))}
        return {label: key for label, key in shown.items() if key}

    @work(exclusive=True, group="safety", exit_on_error=False)
    async def action_kill_switch(self) -> None:
        if self.session.profile.read_only:
            question, detail = ("KILL SWITCH (read-only profile): halt trading in ibterm?",
                                "Nothing is sent to the gateway: a read-only profile never "
                                "changes the account, so working orders stay working.")
        else:
            question, detail = (
                "KILL SWITCH: cancel every working order and halt trading?",
                "Sends IB's global cancel (every open order of this login, whichever "
                "client placed it) and switches to HALTED: only cancels and flatten until "
                "you resume.")
        # The one question where Enter means yes: it is the way out of trouble.
        if await self.push_screen_wait(AskYesNo(question, detail, default=True)):
            self.pipeline.kill()

    @work(exclusive=True, group="safety", exit_on_error=False)
    async def action_cancel_all(self) -> None:
        """IB's global cancel without halting: every working order goes, trading goes on."""
        if self.session.profile.read_only:
            self.notify("Read-only profile: nothing is cancelled from here", severity="warning")
            return
        if await self.push_screen_wait(AskYesNo(
                "CANCEL ALL: cancel every working order? Trading stays "
                f"{self.pipeline.state.value}.",
                "Sends IB's global cancel: every open order of this login, whichever "
                "client placed it (stops placed from TWS too).")):
            self.pipeline.cancel_all()

    def _flatten_detail(self, intent: OrderIntent) -> str:
        f = self.session.profile.flatten
        return ("\n".join(leg.describe() for leg in intent.legs)
                + f"\nPrices as of now: each order is priced again when it is sent, "
                  f"{f.through_ticks} ticks through the touch, and re-priced every "
                  f"{f.reprice_after:g} s while it works.")

    @work(exclusive=True, group="safety", exit_on_error=False)
    async def action_flatten(self) -> None:
        intent = self.pipeline.flatten_intent()
        if intent is None:
            self.notify("No positions to flatten")
            return
        yes = await self.push_screen_wait(AskYesNo(
            "FLATTEN: close every position with marketable limit orders?",
            self._flatten_detail(intent)))
        if yes:
            result = await self.pipeline.submit(intent)
            if result.outcome is Outcome.REJECTED:
                self.notify(f"Flatten not sent: {result.message}", severity="error")

    @work(exclusive=True, group="safety", exit_on_error=False)
    async def action_resume_trading(self) -> None:
        if await self.push_screen_wait(AskYesNo(f"Resume trading (now {self.pipeline.state})?")):
            self.pipeline.resume()

    def action_open_depth(self) -> None:
        """The depth ladder and time & sales of the instrument under the cursor."""
        inst = self.current_instrument()
        if inst is None:
            self.notify("Depth: no instrument under the cursor", severity="warning")
            return
        self.push_screen(DepthScreen(self.session, self.pipeline, inst, self.wall_clock,
                                     self.safety_keys()))

    @work(group="open-chain", exclusive=True, exit_on_error=False)
    async def action_open_chain(self) -> None:
        """The option chain of the instrument under the cursor (an option's underlying's)."""
        inst = self.current_instrument()
        if inst is not None and inst.sec_type is SecType.OPT:
            await self.session.ensure_underlying(inst)
        under = chain_underlying(inst, self.session.underlying_of) if inst else None
        if under is None:
            self.notify("Option chain: no stock or option under the cursor",
                        severity="warning")
            return
        self.push_screen(ChainScreen(self.session, under, self.wall_clock,
                                     self.safety_keys()))

    @work(group="open-builder", exclusive=True, exit_on_error=False)
    async def action_open_builder(self) -> None:
        """The strategy builder on the instrument under the cursor (an option's underlying),
        starting from a template."""
        inst = self.current_instrument()
        if inst is not None and inst.sec_type is SecType.OPT:
            await self.session.ensure_underlying(inst)
        under = chain_underlying(inst, self.session.underlying_of) if inst else None
        if under is None:
            self.notify("Strategy builder: no stock or option under the cursor",
                        severity="warning")
            return
        from ibterm.tui.widgets.builder import StrategyBuilder  # loaded when first asked for

        self.push_screen(StrategyBuilder(under, []))

    @work(group="open-builder", exclusive=True, exit_on_error=False)
    async def on_order_ticket_build_requested(self, event: OrderTicket.BuildRequested) -> None:
        """The ticket's option as the first leg of a combination: the builder takes the
        order from here (the ticket closes; nothing was sent)."""
        inst = event.leg.instrument
        await self.session.ensure_underlying(inst)
        under = self.session.underlying_of(inst)
        if under is None:
            self.notify(f"Strategy builder: no underlying found for {inst.display}",
                        severity="warning")
            return
        from ibterm.tui.widgets.builder import StrategyBuilder  # loaded when first asked for

        self.ticket.action_close()
        self.push_screen(StrategyBuilder(under, [event.leg], event.quantity))

    def action_show_executions(self) -> None:
        self.push_screen(ExecutionsScreen(list(self.executions.fills.values())))

    def action_show_reconciliation(self) -> None:
        self.push_screen(ReconcileScreen(self.reconciliation))

    # --- the chart ---------------------------------------------------------------------
    @property
    def chart_open(self) -> bool:
        # The chart's timer can fire once more while the app is shutting down, its screens
        # gone: then there is no chart.
        return bool(self.screen_stack) and self.screen.has_class("-chart-open")

    def action_toggle_chart(self) -> None:
        """The chart beside the panes, or not (its subscription ends with it)."""
        if self.chart_open:
            self._close_chart()
        else:
            self._open_chart()

    def action_chart_interval(self, size: str) -> None:
        """Bars of this interval (and the chart open, if it was not)."""
        self.chart_size = BarSize(size)
        self._open_chart()

    def _open_chart(self) -> None:
        self.screen.add_class("-chart-open")
        self._chart_con_id = self._chart_next = self._chart_asked = None  # ask now
        self._refresh_chart()

    def _close_chart(self) -> None:
        if self.focused is self.chart_view:
            self.watchlist.focus()
        if self.screen.maximized is self.chart_pane:
            self.screen.minimize()
        self.screen.remove_class("-chart-open")
        self.session.close_chart()
        self._chart_con_id = self._chart_next = self._chart_asked = None

    def _refresh_chart(self) -> None:
        """Follow the cursor, draw what the session has, count the lines in use."""
        lines = (self.session.lines.used, self.session.lines.limit)
        if lines != self._lines_shown:
            self._lines_shown = lines
            self.status_bar.update_state(lines=lines)
        if not self.chart_open:
            return
        try:
            inst = self.current_instrument()
        except NoMatches:
            return  # the DOM is being taken down
        con_id = inst.con_id if inst is not None else None
        if con_id != self._chart_con_id:
            if self._chart_con_id is not None and con_id != self._chart_next:
                self._chart_next = con_id  # moved: wait for the cursor to rest
                return
            self._chart_con_id = con_id
            if inst is None:
                self.session.close_chart()
                self._chart_asked = None
        if inst is not None and self._chart_asked != (inst.con_id, self.chart_size):
            # Asked once per instrument and interval: a refusal is not retried on its own
            # (that would run into IB's pacing); the interval's key asks again.
            self._chart_asked = (inst.con_id, self.chart_size)
            self.session.show_chart(inst, self.chart_size)
        _, series = self.session.chart()
        if series is not None and (inst is None or series.con_id != inst.con_id):
            series = None
        levels = self._chart_levels(inst) if inst is not None else []
        title = (title_of(inst.display, self.chart_size, series, self.wall_clock())
                 if inst is not None else "Chart")
        drawn = (series, tuple(levels), inst, title)
        if drawn == self._chart_drawn:
            return
        self._chart_drawn = drawn
        key = self.key_of(f"chart-{self.chart_size.value.lower()}")
        self.chart_pane.border_title = title
        self.chart_view.show(series, levels,
                             tick_decimals(inst.min_tick) if inst is not None else 2,
                             message_of(series if inst is not None else None, key))

    def _chart_levels(self, inst: Instrument) -> list[PriceLevel]:
        ticket_intent = None
        if self.ticket.has_class("open"):
            try:
                ticket_intent = self.ticket.build()
            except TicketError:
                pass  # half-typed: nothing to draw yet
        return price_levels(inst.con_id, self.pipeline.working_orders(),
                            self.session.positions(), ticket_intent)

    # --- navigation and the rest -----------------------------------------------------
    def action_focus_pane(self, step: int) -> None:
        focused = self.focused
        ticket = self.ticket
        if focused is not None and ticket in focused.ancestors:
            if step > 0:
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        panes = (*PANES, "chart") if self.chart_open else PANES
        current = focused.id if focused is not None and focused.id in panes else panes[0]
        index = (panes.index(current) + step) % len(panes)
        self.query_one(f"#{panes[index]}").focus()

    def action_focus_named(self, name: str) -> None:
        self.query_one(f"#{name}").focus()

    def action_zoom(self) -> None:
        """The focused pane full screen, or back (Escape also minimizes)."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        focused = self.focused
        pane = next((a for a in (focused.ancestors if focused else ()) if isinstance(a, Pane)),
                    None)
        if pane is None:
            pane = self.query_one("#watchlist-pane", Pane)
            self.watchlist.focus()
        screen.maximize(pane, container=False)

    def action_toggle_preview(self) -> None:
        """Margin preview or the panes, while the ticket is open (on a narrow terminal
        the preview takes the main area; on a wide one it sits beside the panes). A control
        key, so that it works while a ticket field has the focus."""
        self.screen.toggle_class("-hide-preview")

    def action_show_help(self) -> None:
        sources: list[object] = [self, self.watchlist,
                                 self.orders, self.ticket]
        self.push_screen(HelpScreen(binding_rows(self, sources)))

    def _hang_up(self) -> None:
        """The terminal went away: end the normal way. Textual's output thread can
        deadlock restoring a terminal that no longer exists (seen in CI: the main thread
        stuck in WriterThread.stop), so a watchdog ends the process if the shutdown has
        not within HANGUP_GRACE seconds; by then the session and the journal are closed
        (the journal commits every event as it is written in any case)."""
        watchdog = threading.Timer(HANGUP_GRACE, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()
        self.exit()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def action_quit_app(self) -> None:
        working = [order.order_ref for order in self.pipeline.working_orders()]
        if working:
            # Stay is the default: Enter on a quit question must not walk away from
            # working orders by accident.
            choice = await self.push_screen_wait(QuitDialog(len(working)))
            if choice is QuitChoice.STAY:
                return
            if choice is QuitChoice.CANCEL_ALL:
                if not self.pipeline.cancel_all():
                    return  # not sent (no link, read-only): the notice says why; stay
                # A moment for the global cancel to be acknowledged before the link
                # closes, so the blotter and the journal record the cancels (they are
                # final at the gateway once sent, whatever this waits for).
                await self.pipeline.until_done(working, CANCELS_GRACE)
        await self.session.close()
        self.exit()

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette) asks about working orders too."""
        self.action_quit_app()

    def _handle_exception(self, error: Exception) -> None:
        """An error nothing else caught ends the app, as Textual does, but without its
        traceback: that prints locals, and locals hold account ids and positions. The
        whole story goes to a crash report that only this user can read."""
        self._return_code = 1
        if self._exception is None:  # Pilot re-raises it in tests
            self._exception = error
            self._exception_event.set()
        text = "".join(traceback.format_exception(error))
        log.critical("the app stopped on an unexpected error:\n%s", text)
        try:
            where = f"A crash report is in {write_crash_report(data_dir(), text)}"
        except OSError as exc:
            where = f"No crash report could be written ({exc}); the log has the details"
        self.bell()
        self.panic(Text.assemble(
            ("ibterm stopped on an unexpected error: ", "bold"), (type(error).__name__, "bold"),
            f"\n{where} (readable only by you).\nOrders already sent keep working at the "
            "gateway; start ibterm again and it reconciles them with the journal."))

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+q, the terminal going away), end the session too.
        await self.session.close()
        self.journal.close()
        gc.unfreeze()  # what it froze can be collected again (tests run many apps)

    @property
    def connected(self) -> bool:
        return self.session.status.state is ConnectionState.CONNECTED
