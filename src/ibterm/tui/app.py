"""The ibterm Textual app: status bar, watchlist and positions over one broker session."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from ibterm.broker.session import BrokerSession, SessionUpdate
from ibterm.domain.connection import ConnectionState
from ibterm.domain.quote import MarketDataType
from ibterm.tui.theme import APP_VARIABLE_DEFAULTS, IBTERM_DARK
from ibterm.tui.widgets.help import HelpScreen, binding_rows
from ibterm.tui.widgets.positions import AccountLine, PositionsTable
from ibterm.tui.widgets.status_bar import StatusBar
from ibterm.tui.widgets.watchlist import WatchlistTable

log = logging.getLogger("ibterm.tui")

# Quotes are applied to the tables in batches at this rate, whatever the tick rate.
REFRESH_INTERVAL = 0.2
PANES = ("watchlist", "positions")


class IbtermApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "ibterm"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_app", "Quit", id="quit"),
        Binding("question_mark", "show_help", "Keys", id="show-help"),
        Binding("tab", "focus_pane(1)", "Next pane", show=False, id="focus-next-pane"),
        Binding("shift+tab", "focus_pane(-1)", "Prev pane", show=False,
                id="focus-previous-pane"),
        Binding("w", "focus_named('watchlist')", "Watchlist", id="focus-watchlist"),
        Binding("p", "focus_named('positions')", "Positions", id="focus-positions"),
    ]

    def __init__(self, session: BrokerSession,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.wall_clock = wall_clock
        self.register_theme(IBTERM_DARK)
        self.theme = IBTERM_DARK.name

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield StatusBar(self.session.name, self.session.mode, self.wall_clock, id="status")
        with Horizontal(id="main"), Vertical(id="left"):
            with Vertical(id="watchlist-pane", classes="pane") as pane:
                pane.border_title = "Watchlist"
                yield WatchlistTable(self.session.profile.stale_after, id="watchlist")
            with Vertical(id="positions-pane", classes="pane") as pane:
                pane.border_title = "Positions"
                yield PositionsTable(id="positions")
                yield AccountLine(id="account")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#watchlist").focus()
        self.set_interval(REFRESH_INTERVAL, self.refresh_from_session)
        self.set_interval(1.0, self._tick_clock)
        self.run_worker(self.session.start(), name="connect", exclusive=True)

    def refresh_from_session(self) -> None:
        update = self.session.drain()
        if update.status is None and update.watchlist is None and not update.quotes \
                and update.positions is None and update.account is None and not update.notices:
            return
        with self.batch_update():
            self.apply(update)

    def apply(self, update: SessionUpdate) -> None:
        watchlist = self.query_one(WatchlistTable)
        status_bar = self.query_one(StatusBar)
        now = self.session.clock()
        if update.watchlist is not None:
            watchlist.set_items(update.watchlist)
            for item in update.watchlist:
                if item.error:
                    self.notify(f"{item.text}: {item.error}", title="Watchlist",
                                severity="warning")
        if update.quotes:
            watchlist.apply_quotes(update.quotes, now)
            status_bar.update_state(data_label=self._data_label(watchlist.data_types()))
        if update.positions is not None:
            self.query_one(PositionsTable).apply_positions(update.positions)
        if update.account is not None:
            self.query_one(AccountLine).show(update.account)
        if update.status is not None:
            status_bar.update_state(status=update.status, account=self.session.account)
        for notice in update.notices:
            severity = "information" if notice.level == "info" else notice.level
            self.notify(notice.message, severity=severity, timeout=6)  # type: ignore[arg-type]

    def _tick_clock(self) -> None:
        self.query_one(WatchlistTable).refresh_ages(self.session.clock())

    @staticmethod
    def _data_label(types: set[MarketDataType]) -> str:
        if not types:
            return "—"
        order = sorted(types)
        return "+".join(t.label for t in order)

    # --- actions ---------------------------------------------------------------------
    def action_focus_pane(self, step: int) -> None:
        focused = self.focused
        current = focused.id if focused is not None and focused.id in PANES else PANES[0]
        index = (PANES.index(current) + step) % len(PANES)
        self.query_one(f"#{PANES[index]}").focus()

    def action_focus_named(self, name: str) -> None:
        self.query_one(f"#{name}").focus()

    def action_show_help(self) -> None:
        sources: list[object] = [self]
        sources.extend(self.query(WatchlistTable))
        self.push_screen(HelpScreen(binding_rows(self, sources)))

    async def action_quit_app(self) -> None:
        await self.session.close()
        self.exit()

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+q, the terminal going away), end the session too.
        await self.session.close()

    @property
    def connected(self) -> bool:
        return self.session.status.state is ConnectionState.CONNECTED
