"""The chart pane: the current instrument's candles with volume, the forming bar live,
its working orders, average cost and the ticket's bracket drawn across; what the data is
(loading, live, refused, stopped) in its title, never old bars passed off as live."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from ibterm.domain.bars import BarSeries, BarSize, HistoryState
from ibterm.domain.levels import LevelKind, PriceLevel
from ibterm.tui.theme import rich_colour
from ibterm.tui.widgets.candles import ChartStyle, draw_candles

# Each level's colour, from the theme: buys and sells as the quotes' bid and ask, the
# exits as profit and loss, the cost and the entry in the theme's own accents.
_LEVEL_COLOURS = {
    LevelKind.BUY: "quote-bid",
    LevelKind.SELL: "quote-ask",
    LevelKind.COST: "warning",
    LevelKind.TAKE_PROFIT: "trade-up",
    LevelKind.STOP_LOSS: "trade-down",
    LevelKind.ENTRY: "primary",
}


class ChartView(Widget, can_focus=True):
    """The drawing. Focusable, so that the zoom key and pane keys reach its pane."""

    DEFAULT_CSS = """
    ChartView { height: 1fr; background: $surface; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: BarSeries | None = None
        self.levels: tuple[PriceLevel, ...] = ()
        self.decimals = 2
        self.message = ""
        self._drawn: tuple[object, ...] = ()
        self._lines: list[Text] = []

    def show(self, series: BarSeries | None, levels: Sequence[PriceLevel], decimals: int,
             message: str) -> None:
        self.series, self.levels = series, tuple(levels)
        self.decimals, self.message = decimals, message
        self.refresh()

    def _style(self) -> ChartStyle:
        variables = self.app.theme_variables

        def colour(name: str) -> str:
            return rich_colour(variables.get(name, "default"))

        # The axes in the terminal's own foreground, dimmed: readable on any palette.
        return ChartStyle(colour("trade-up"), colour("trade-down"), colour("quote-stale"),
                          "dim", {kind: colour(name) for kind, name in _LEVEL_COLOURS.items()})

    def render(self) -> RenderResult:
        series = self.series
        width, height = self.size
        if series is None or not series.bars:
            return Text(self.message, style="italic")
        # Drawn again only when something drawn changed: the focus moving or a refresh
        # of the app does not redraw 2,000 bars' worth of arithmetic.
        key = (series, self.levels, width, height, self.app.theme, self.decimals)
        if key != self._drawn:
            self._drawn = key
            self._lines = draw_candles(series.bars, self.levels, width, height, self._style(),
                                       live=series.live, intraday=series.size.intraday,
                                       decimals=self.decimals)
        return Text("\n", no_wrap=True).join(self._lines)


def title_of(display: str, size: BarSize, series: BarSeries | None, now: dt.datetime) -> str:
    """The pane's title: what, at which interval, and how fresh."""
    head = f"Chart {display} {size.value}"
    if series is None:
        return head
    state = series.state
    if state is HistoryState.LIVE:
        quiet = series.quiet_since(now)
        # Live, but the last bar is not now's: say so, so it is not read as the market.
        return f"{head} · ● live" + (f", no new bar since {quiet:%d %b %H:%M}" if quiet
                                     else "")
    if state is HistoryState.LOADING:
        return f"{head} · loading" + (f" ({series.detail})" if series.detail else "")
    if state is HistoryState.STOPPED:
        return f"{head} · ✖ not live: {series.detail}"
    return f"{head} · ✖ refused"


def message_of(series: BarSeries | None, interval_key: str) -> str:
    """What the pane says where there are no bars to draw."""
    if series is None:
        return "No instrument under the cursor"
    if series.state is HistoryState.REFUSED:
        again = f" ({interval_key} asks again)" if interval_key else ""
        return f"No bars: IB refused the history\n{series.detail}{again}"
    if series.state is HistoryState.STOPPED:
        return f"No bars: {series.detail}"
    if series.state is HistoryState.LOADING:
        return "Loading bars…" + (f"\n{series.detail}" if series.detail else "")
    return "No bars in this period"

