"""Candlesticks drawn as text: one column per bar, two price steps per row (half blocks),
volume under them, the price axis on the right, and price levels drawn across.

Drawn here rather than by plotext: the chart shows as many bars as it has columns, so the
work grows with the pane, not with the history (2,000 bars draw as fast as 100), and
every colour is a theme's (ANSI themes included), not plotext's palette.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

from ibterm.domain.bars import Bar
from ibterm.domain.levels import LevelKind, PriceLevel

_VOLUME_STEPS = " ▁▂▃▄▅▆▇█"
_LABEL_EVERY = 4  # price axis: a label every this many rows
_TIME_GAP = 3  # columns at least between two time labels


@dataclass(frozen=True, slots=True)
class ChartStyle:
    up: str
    down: str
    stale: str  # every bar, when the series is not live
    axis: str
    levels: dict[LevelKind, str]


def _price_text(price: float, decimals: int) -> str:
    return f"{price:,.{decimals}f}"


def _time_text(start: dt.datetime, intraday: bool) -> str:
    if start.tzinfo is not None:
        start = start.astimezone()  # the trader's clock
    return start.strftime("%H:%M") if intraday else start.strftime("%d %b")


class _Canvas:
    """Rows of cells, each a character and a style, turned into Text runs."""

    def __init__(self, width: int, height: int) -> None:
        self.chars = [[" "] * width for _ in range(height)]
        self.styles = [[""] * width for _ in range(height)]

    def put(self, row: int, col: int, char: str, style: str) -> None:
        self.chars[row][col] = char
        self.styles[row][col] = style

    def write(self, row: int, col: int, text: str, style: str) -> None:
        line = self.chars[row]
        for i, char in enumerate(text[:max(0, len(line) - col)]):
            line[col + i] = char
            self.styles[row][col + i] = style

    def lines(self) -> list[Text]:
        out = []
        for chars, styles in zip(self.chars, self.styles, strict=True):
            text = Text(no_wrap=True, overflow="crop")
            start = 0
            for i in range(1, len(chars) + 1):
                if i == len(chars) or styles[i] != styles[start]:
                    text.append("".join(chars[start:i]), styles[start] or None)
                    start = i
            out.append(text)
        return out


def draw_candles(bars: Sequence[Bar], levels: Sequence[PriceLevel], width: int, height: int,
                 style: ChartStyle, *, live: bool, intraday: bool,
                 decimals: int = 2) -> list[Text]:
    """The chart as `height` lines of `width` cells: the newest bars that fit, the newest
    at the right. Levels outside a range three times the bars' are marked at the edge."""
    if not bars or width < 12 or height < 4:
        return []
    # The axis is as wide as the widest price it can show, and a marker.
    widest = max([abs(b.high) for b in bars[-width:]] + [abs(lv.price) for lv in levels])
    plot_w = width - len(_price_text(widest, decimals)) - 1
    shown = bars[-plot_w:]
    has_volume = any(b.volume for b in shown)
    vol_rows = (3 if height >= 16 else 2 if height >= 10 else 0) if has_volume else 0
    price_rows = height - 1 - vol_rows
    lo = min(b.low for b in shown)
    hi = max(b.high for b in shown)
    span = hi - lo or max(abs(hi) * 0.001, 10.0 ** -decimals)
    near = [lv for lv in levels if lo - span <= lv.price <= hi + span]
    lo = min([lo, *(lv.price for lv in near)])
    hi = max([hi, *(lv.price for lv in near)])
    if hi == lo:
        lo, hi = lo - span / 2, hi + span / 2
    steps = price_rows * 2 - 1  # half rows, top 0

    def step(price: float) -> int:
        return max(0, min(steps, round((hi - price) / (hi - lo) * steps)))

    canvas = _Canvas(width, height)
    offset = plot_w - len(shown)
    for i, bar in enumerate(shown):
        col = offset + i
        colour = (style.up if bar.close >= bar.open else style.down) if live else style.stale
        wick_top, wick_bottom = step(bar.high), step(bar.low)
        body_top, body_bottom = step(max(bar.open, bar.close)), step(min(bar.open, bar.close))
        for row in range(wick_top // 2, wick_bottom // 2 + 1):
            upper, lower = 2 * row, 2 * row + 1
            body_up = body_top <= upper <= body_bottom
            body_low = body_top <= lower <= body_bottom
            if body_up and body_low:
                char = "█"
            elif body_up:
                char = "▀"
            elif body_low:
                char = "▄"
            elif wick_top <= upper and lower <= wick_bottom:
                char = "│"
            else:
                char = "╵" if wick_top <= upper <= wick_bottom else "╷"
            canvas.put(row, col, char, colour)
    _draw_axis(canvas, shown[-1], lo, hi, price_rows, plot_w, style, live, decimals)
    _draw_levels(canvas, levels, near, step, hi, price_rows, plot_w, style, decimals)
    if vol_rows:
        _draw_volume(canvas, shown, offset, price_rows, vol_rows, style, live)
    _draw_times(canvas, shown, offset, height - 1, plot_w, style, intraday)
    return canvas.lines()


def _draw_axis(canvas: _Canvas, last: Bar, lo: float, hi: float, rows: int, plot_w: int,
               style: ChartStyle, live: bool, decimals: int) -> None:
    for row in range(0, rows, _LABEL_EVERY):
        price = hi - (hi - lo) * row / max(1, rows - 1)
        canvas.write(row, plot_w, "┤" + _price_text(price, decimals), style.axis)
    # The last price, marked on the axis as trading screens do.
    row = round((hi - last.close) / (hi - lo) * (rows - 1))
    colour = (style.up if last.close >= last.open else style.down) if live else style.stale
    canvas.write(row, plot_w, "◀" + _price_text(last.close, decimals), f"bold {colour}")


def _draw_levels(canvas: _Canvas, levels: Sequence[PriceLevel], near: Sequence[PriceLevel],
                 step: Callable[[float], int], hi: float, rows: int, plot_w: int,
                 style: ChartStyle, decimals: int) -> None:
    for level in levels:
        colour = style.levels[level.kind]
        if level in near:
            row = step(level.price) // 2
            for col in range(plot_w):
                if canvas.chars[row][col] == " ":
                    canvas.put(row, col, "╌", colour)
            marker = ""
        else:
            # Off the chart: at the edge it is beyond, with an arrow pointing to it.
            row = 0 if level.price > hi else rows - 1
            marker = "↑" if row == 0 else "↓"
        canvas.write(row, 0, f"{marker}{level.label} {_price_text(level.price, decimals)}",
                     f"bold {colour}")
        canvas.write(row, plot_w, "─" + _price_text(level.price, decimals), f"reverse {colour}")


def _draw_volume(canvas: _Canvas, shown: Sequence[Bar], offset: int, top: int, rows: int,
                 style: ChartStyle, live: bool) -> None:
    most = max(b.volume or 0 for b in shown) or 1
    for i, bar in enumerate(shown):
        eighths = round((bar.volume or 0) / most * rows * 8)
        colour = (style.up if bar.close >= bar.open else style.down) if live else style.stale
        for r in range(rows):
            filled = min(8, max(0, eighths - 8 * (rows - 1 - r)))
            if filled:
                canvas.put(top + r, offset + i, _VOLUME_STEPS[filled], f"dim {colour}")


def _draw_times(canvas: _Canvas, shown: Sequence[Bar], offset: int, row: int, plot_w: int,
                style: ChartStyle, intraday: bool) -> None:
    free_from = 0
    for i, bar in enumerate(shown):
        col = offset + i
        text = _time_text(bar.start, intraday)
        if col < free_from or col + len(text) > plot_w:
            continue
        canvas.write(row, col, text, style.axis)
        free_from = col + len(text) + _TIME_GAP
