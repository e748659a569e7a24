"""The candle drawing: the newest bars that fit, up and down in the theme's colours, old
bars never in them, levels on their row or marked at the edge beyond."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from ibterm.domain.bars import Bar
from ibterm.domain.levels import LevelKind, PriceLevel
from ibterm.tui.widgets.candles import ChartStyle, draw_candles

STYLE = ChartStyle("color(2)", "color(1)", "color(8)", "color(7)",
                   {kind: "color(3)" for kind in LevelKind})
T0 = dt.datetime(2026, 11, 27, 14, 30, tzinfo=dt.UTC)


def _bars(count: int) -> list[Bar]:
    bars = []
    for i in range(count):
        base = 100 + (i % 10)
        up = i % 2 == 0
        bars.append(Bar(T0 + dt.timedelta(minutes=i), base, base + 1.5, base - 1.5,
                        base + (1 if up else -1), 100 + i))
    return bars


def _styles(lines: list[Text]) -> set[str]:
    return {str(span.style) for line in lines for span in line.spans}


def test_the_chart_is_its_size_and_shows_the_newest_bars_that_fit() -> None:
    lines = draw_candles(_bars(2000), [], 60, 20, STYLE, live=True, intraday=True)
    assert len(lines) == 20 and all(line.cell_len == 60 for line in lines)
    # The time axis reads the newest bars' minutes: 2,000 bars, only the last ones drawn.
    newest = (T0 + dt.timedelta(minutes=1999)).astimezone()
    times = lines[-1].plain.split()
    assert times and all(len(t) == 5 for t in times)
    first = (T0 + dt.timedelta(minutes=2000 - (60 - 7))).astimezone()
    assert times[0] == f"{first:%H:%M}" and newest >= first
    assert "◀" in "".join(line.plain for line in lines)  # the last price on the axis


def test_up_and_down_bars_take_the_themes_colours_only_while_live() -> None:
    live = _styles(draw_candles(_bars(50), [], 60, 20, STYLE, live=True, intraday=True))
    assert {"color(2)", "color(1)"} <= live
    stopped = _styles(draw_candles(_bars(50), [], 60, 20, STYLE, live=False, intraday=True))
    assert "color(2)" not in stopped and "color(1)" not in stopped
    assert "color(8)" in stopped


def test_levels_are_drawn_on_their_row_or_marked_at_the_edge() -> None:
    near = PriceLevel(104.0, LevelKind.BUY, "B 100 LMT")
    far = PriceLevel(500.0, LevelKind.STOP_LOSS, "SL")
    lines = draw_candles(_bars(50), [near, far], 70, 20, STYLE, live=True, intraday=True)
    text = [line.plain for line in lines]
    row = next(i for i, t in enumerate(text) if t.startswith("B 100 LMT 104.00"))
    assert "╌" in text[row] and text[row].rstrip().endswith("─104.00")
    assert text[0].startswith("↑SL 500.00")  # far above: the top row says where
    assert all("500" not in t for t in text[1:])


def test_a_day_chart_reads_dates_and_a_tiny_pane_draws_nothing() -> None:
    days = [Bar(dt.datetime(2026, 11, d), 10, 11, 9, 10.5, None) for d in range(2, 28)]
    lines = draw_candles(days, [], 60, 12, STYLE, live=True, intraday=False)
    assert lines[-1].plain.lstrip().startswith("02 Nov")
    assert "▁" not in "".join(t.plain for t in lines)  # no volume: no volume rows
    assert draw_candles(days, [], 10, 3, STYLE, live=True, intraday=False) == []
