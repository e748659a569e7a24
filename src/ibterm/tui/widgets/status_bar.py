"""The one-line status bar: mode badge, profile, account, connection, data type,
market-data lines in use, clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.domain.orders import TradingState
from ibterm.tui.theme import rich_colour

_STATE_STYLE = {
    ConnectionState.CONNECTED: "trade-up",
    ConnectionState.CONNECTING: "quote-delayed",
    ConnectionState.RECONNECTING: "badge-paper",
    ConnectionState.LOST: "trade-down",
    ConnectionState.DISCONNECTED: "trade-down",
}
_STATE_MARK = {
    ConnectionState.CONNECTED: "●",
    ConnectionState.CONNECTING: "◌",
    ConnectionState.RECONNECTING: "◌",
    ConnectionState.LOST: "✖",
    ConnectionState.DISCONNECTED: "✖",
}


# What leaves first when the terminal is narrow (higher first). The mode badge, the
# connection, the trading state and the kill key never leave: they are what keeps a
# trader from sending into the wrong account or missing a halt.
_KEEP = 0
# From this fraction of the market-data lines in use, the count is shown as a warning.
LINES_NEAR = 0.9


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self, profile: str, mode: TradingMode,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.wall_clock = wall_clock
        self.profile = profile
        self.mode = mode
        self.account = ""
        self.status = ConnectionStatus(ConnectionState.DISCONNECTED)
        self.data_label = "—"
        self.trading = TradingState.ACTIVE
        self.queued = 0
        self.lines: tuple[int, int] | None = None  # market-data lines (in use, limit)
        # The keys as bound in the keymap in force: {"kill": "f12", "flatten": "f10",
        # "resume": "f9"}; a missing one is not shown.
        self.safety_keys: dict[str, str] = {}

    def on_mount(self) -> None:
        self.set_interval(1.0, self.render_bar)
        self.render_bar()

    def on_resize(self) -> None:
        self.render_bar()

    def update_state(self, status: ConnectionStatus | None = None, account: str | None = None,
                     data_label: str | None = None, trading: TradingState | None = None,
                     queued: int | None = None, lines: tuple[int, int] | None = None) -> None:
        if lines is not None:
            self.lines = lines
        if trading is not None:
            self.trading = trading
        if queued is not None:
            self.queued = queued
        if status is not None:
            self.status = status
        if account is not None:
            self.account = account
        if data_label is not None:
            self.data_label = data_label
        self.render_bar()

    def _color(self, name: str) -> str:
        return rich_colour(self.app.theme_variables.get(name, "default"))

    def segments(self) -> list[tuple[int, Text]]:
        """The bar's parts in display order, each with the priority it leaves at."""
        parts: list[tuple[int, Text]] = []

        def part(priority: int, *pieces: tuple[str, str]) -> None:
            parts.append((priority, Text.assemble(*pieces)))

        badge_var = {TradingMode.DEMO: "badge-demo", TradingMode.PAPER: "badge-paper",
                     TradingMode.LIVE: "badge-live"}[self.mode]
        part(_KEEP, (f" {self.mode.value.upper()} ",
                     f"bold #ffffff on {self._color(badge_var)}"))
        part(5, (f" {self.profile}", "bold"))
        part(3, (" │ ", "dim"), (self.account or "no account", ""))
        state = self.status.state
        part(_KEEP, (" │ ", "dim"), (f"{_STATE_MARK[state]} {state.value}",
                                     f"bold {self._color(_STATE_STYLE[state])}"))
        if state is not ConnectionState.CONNECTED and self.status.detail:
            part(6, (f" ({self.status.detail})", "dim"))
        part(4, (" │ ", "dim"), (f"data: {self.data_label}", ""))
        if self.lines is not None:
            used, limit = self.lines
            # Near the limit the count matters more than the clock: it stays longer.
            near = used >= limit * LINES_NEAR
            part(2 if near else 4, (" │ ", "dim"),
                 (f"lines {used}/{limit}", f"bold {self._color('badge-paper')}" if near else ""))
        trading_style = {TradingState.ACTIVE: self._color("trade-up"),
                         TradingState.REDUCING: self._color("badge-paper"),
                         TradingState.HALTED: f"#ffffff on {self._color('trade-down')}"}
        part(_KEEP, (" │", "dim"), (f" {self.trading.value} ",
                                    f"bold {trading_style[self.trading]}"))
        resume = self.safety_keys.get("resume")
        if self.trading is not TradingState.ACTIVE and resume:
            # A halt that does not say how to end it gets the app killed instead.
            part(_KEEP, (f" {resume} resume", "bold"))
        if self.queued:
            part(1, (f" queue {self.queued}", "bold"))
        if "kill" in self.safety_keys:
            part(_KEEP, (f" {self.safety_keys['kill']} kill", "dim"))
        if "flatten" in self.safety_keys:
            part(2, (f" · {self.safety_keys['flatten']} flatten", "dim"))
        part(3, (" │ ", "dim"), (self.wall_clock().strftime("%H:%M:%S"), ""))
        return parts

    def render_bar(self) -> None:
        parts = self.segments()
        width = self.size.width or 10_000
        # Leave lesser parts out, the least first, until the rest fits.
        for level in sorted({p for p, _ in parts}, reverse=True):
            if sum(t.cell_len for _, t in parts) <= width or level == _KEEP:
                break
            parts = [(p, t) for p, t in parts if p < level]
        # One row, docked, its height fixed by CSS: new text never changes the layout, so
        # the screen is not re-laid out on every clock tick.
        self.update(Text("").join(t for _, t in parts), layout=False)
