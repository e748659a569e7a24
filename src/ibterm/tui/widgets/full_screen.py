"""What the full-screen views (the option chain, the depth ladder, the strategy builder)
share: escape closes one, `?` lists its keys as the keymap binds them, the keys in force
along the bottom, and drawing from the session on a timer, whatever the rate of the feeds
behind it. The chain and the ladder have the status line over them as well
(StatusScreen).

Each screen names its own bindings' ids (chain-close, ladder-keys, …): a keymap remaps
one screen's escape without another's, and the action registry lists each screen's keys
in its own scope. `close_key` and `keys_key` make those bindings alike on every screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from ibterm.broker.session import BrokerSession
from ibterm.domain.orders import TradingState
from ibterm.domain.quote import Quote
from ibterm.tui.widgets.footer import Footer
from ibterm.tui.widgets.help import HelpScreen, binding_rows
from ibterm.tui.widgets.status_bar import StatusBar


def close_key(binding_id: str) -> Binding:
    """Escape closes the screen."""
    return Binding("escape", "close", "Close", id=binding_id)


def keys_key(binding_id: str) -> Binding:
    """`?` lists the screen's keys."""
    return Binding("question_mark", "show_keys", "Keys", show=False, id=binding_id)


class FullScreen(Screen[None]):
    """A view over the whole terminal. It draws in `refresh_view`, every REFRESH seconds,
    and keeps in `_drawn` the key of what it drew last: emptied, the next draw is whole
    (`_redraw` does both at once, after a key)."""

    # The screen is drawn from the session at this rate (the watchlist's), whatever the
    # feeds'.
    REFRESH: ClassVar[float] = 0.25

    def __init__(self) -> None:
        super().__init__()
        # The main screen's keys stay off it as off a dialog: a `b` here must not open the
        # ticket unseen below. The kill switch and flatten are priority bindings and still
        # work.
        self._modal = True
        self._drawn: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield from self.compose_view()
        yield Footer()

    def compose_view(self) -> ComposeResult:
        """The screen's own widgets, above the keys."""
        raise NotImplementedError

    def refresh_view(self) -> None:
        raise NotImplementedError

    def draw_every_refresh(self) -> None:
        """Draw now, then every REFRESH seconds while the screen is mounted."""
        self.refresh_view()
        self.set_interval(self.REFRESH, self.refresh_view)

    def _redraw(self) -> None:
        self._drawn = ()
        self.refresh_view()

    @staticmethod
    def set_title(widget: Widget, title: str) -> None:
        """A pane's border title, set only when it changes (each set redraws the pane)."""
        if widget.border_title != title:
            widget.border_title = title

    def action_close(self) -> None:
        self.dismiss(None)

    def action_show_keys(self) -> None:
        self.app.push_screen(HelpScreen(binding_rows(self.app, [self])))


class StatusScreen(FullScreen):
    """A full screen on one instrument's market, with the status line over it as over the
    main screen (mode, connection, account, the quote's data type, market-data lines, the
    safety keys) and a head line under that (`#HEAD`)."""

    HEAD: ClassVar[str]

    def __init__(self, session: BrokerSession,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
                 safety_keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.wall_clock = wall_clock
        self.safety_keys = safety_keys or {}
        self._status_shown: tuple[object, ...] = ()
        self._head_shown = Text()

    def compose(self) -> ComposeResult:
        self.status_bar = StatusBar(self.session.name, self.session.mode, self.wall_clock)
        self.status_bar.safety_keys = self.safety_keys
        yield self.status_bar
        yield Static(id=self.HEAD)
        yield from super().compose()

    def show_status(self, quote: Quote | None, trading: TradingState | None = None) -> None:
        """The status line, with the data type of `quote` (and `trading`, the pipeline's
        state, where the screen sends orders)."""
        session = self.session
        label = quote.data_type.label if quote is not None else "—"
        lines = (session.lines.used, session.lines.limit)
        state = (session.status, session.account, trading, label, lines)
        if state != self._status_shown:
            # Only a change: each update of the bar lays the screen out again.
            self._status_shown = state
            self.status_bar.update_state(status=session.status, account=session.account,
                                         trading=trading, data_label=label, lines=lines)

    def show_head(self, head: Text) -> None:
        """The head line, updated only when it changes and without a new layout."""
        if head != self._head_shown:
            self._head_shown = head
            self.query_one(f"#{self.HEAD}", Static).update(head, layout=False)
