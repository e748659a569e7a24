"""The one-line status bar: mode badge, profile, account, connection, data type, clock."""

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
        self.safety_keys = ""  # "F12 kill · F10 flatten", from the keymap in force

    def on_mount(self) -> None:
        self.set_interval(1.0, self.render_bar)
        self.render_bar()

    def update_state(self, status: ConnectionStatus | None = None, account: str | None = None,
                     data_label: str | None = None, trading: TradingState | None = None,
                     queued: int | None = None) -> None:
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

    def render_bar(self) -> None:
        badge_var = {TradingMode.DEMO: "badge-demo", TradingMode.PAPER: "badge-paper",
                     TradingMode.LIVE: "badge-live"}[self.mode]
        text = Text()
        badge = f"bold #ffffff on {self._color(badge_var)}"
        text.append(f" {self.mode.value.upper()} ", style=badge)
        text.append(f" {self.profile} ", style="bold")
        text.append("│ ", style="dim")
        text.append(self.account or "no account", style="")
        text.append(" │ ", style="dim")
        state = self.status.state
        text.append(f"{_STATE_MARK[state]} {state.value}",
                    style=f"bold {self._color(_STATE_STYLE[state])}")
        if state is not ConnectionState.CONNECTED and self.status.detail:
            text.append(f" ({self.status.detail})", style="dim")
        text.append(" │ ", style="dim")
        text.append(f"data: {self.data_label}")
        text.append(" │ ", style="dim")
        trading_style = {TradingState.ACTIVE: self._color("trade-up"),
                         TradingState.REDUCING: self._color("badge-paper"),
                         TradingState.HALTED: f"#ffffff on {self._color('trade-down')}"}
        text.append(f" {self.trading.value} ", style=f"bold {trading_style[self.trading]}")
        if self.queued:
            text.append(f" queue {self.queued}", style="bold")
        if self.safety_keys:
            text.append(f" {self.safety_keys}", style="dim")
        text.append(" │ ", style="dim")
        text.append(self.wall_clock().strftime("%H:%M:%S"))
        self.update(text)
