"""The chart pane's drawing: 2,000 bars of candles, volume, time and price axes and three
price levels, drawn to the lines a terminal shows (tui/widgets/candles.py, then Rich's
rendering to segments as Textual does it), at a watchlist-beside size and a zoomed one.

Baselines, timed the same way in the same run: plotext (the textual-plotext dependency)
drawing the same candles bare, all 2,000 of them, and only the ones that fit the width.
The target is a median under 50 ms for 2,000 bars.

Run: python bench/chart.py [--runs 21]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from textual_plotext.plot import Plot

from ibterm.domain.bars import Bar
from ibterm.domain.levels import LevelKind, PriceLevel
from ibterm.tui.widgets.candles import ChartStyle, draw_candles

BARS = 2000
TARGET_MS = 50.0
SIZES = [(58, 36), (118, 36), (200, 60)]  # beside the watchlist at 120x40, zoomed, big
STYLE = ChartStyle("#3fb950", "#f85149", "#6e7681", "#8b949e",
                   {kind: "#d29922" for kind in LevelKind})


def _bars(count: int) -> list[Bar]:
    rng = random.Random(0)
    start = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
    bars, price = [], 230.0
    for i in range(count):
        close = price + rng.gauss(0, 0.2)
        high = max(price, close) + abs(rng.gauss(0, 0.1))
        low = min(price, close) - abs(rng.gauss(0, 0.1))
        bars.append(Bar(start + dt.timedelta(minutes=5 * i), price, high, low, close,
                        float(rng.randint(1_000, 50_000))))
        price = close
    return bars


def _timed(runs: int, work: Callable[[], object]) -> list[float]:
    work()  # warm: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    bars = _bars(BARS)
    last = bars[-1].close
    levels = [PriceLevel(last - 1.0, LevelKind.BUY, "B 100 LMT"),
              PriceLevel(last + 0.5, LevelKind.COST, "avg 300"),
              PriceLevel(last - 40.0, LevelKind.STOP_LOSS, "SL")]
    opens, highs = [b.open for b in bars], [b.high for b in bars]
    lows, closes = [b.low for b in bars], [b.close for b in bars]

    def ours(width: int, height: int) -> Callable[[], object]:
        console = Console(width=width, height=height, color_system="truecolor",
                          force_terminal=True, legacy_windows=False)

        def draw() -> object:
            lines = draw_candles(bars, levels, width, height, STYLE, live=True,
                                 intraday=True)
            return [console.render_lines(line, console.options) for line in lines]
        return draw

    def plotext(width: int, height: int, count: int) -> Callable[[], object]:
        def draw() -> object:
            plt = Plot()
            plt.plotsize(width, height)
            plt.candlestick(list(range(count)), {"Open": opens[-count:], "High": highs[-count:],
                                                 "Low": lows[-count:],
                                                 "Close": closes[-count:]})
            return plt.build()
        return draw

    print(f"{BARS} bars, {args.runs} runs each (ms: median [min-max]); target median "
          f"< {TARGET_MS:g} ms")
    for width, height in SIZES:
        mine = _timed(args.runs, ours(width, height))
        fit = _timed(args.runs, plotext(width, height, width - 8))
        full = _timed(max(3, args.runs // 4), plotext(width, height, BARS))
        m, f, a = (statistics.median(t) for t in (mine, fit, full))
        verdict = "ok" if m < TARGET_MS else "OVER TARGET"
        print(f"{width}x{height}: ibterm {m:6.2f} [{min(mine):.2f}-{max(mine):.2f}] {verdict}"
              f" | plotext, the bars that fit {f:6.2f} ({f / m:.1f}x ibterm)"
              f" | plotext, all {BARS} bars {a:7.1f} ({a / m:.0f}x ibterm)")


if __name__ == "__main__":
    main()
