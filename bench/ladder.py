"""The depth ladder under load: does the app keep up with a book of about 100 depth
updates a second, and its tape, while 100 watchlist symbols tick?

A feeder process runs the simulator with 100 symbols, its market stepping every
`--step` seconds (each step moves every quote, the book's rows and prints trades). The
headless app (Textual's run_test, 120x40) watches all 100. Two phases, in the same run:

  baseline: the watchlist ticking, no ladder;
  ladder:   the same, with the ladder and time & sales open on each of 5 symbols in turn.

Printed for each: the updates received a second (quotes; depth rows and prints in the
ladder phase), the app process's CPU, the event loop's lag (how late a 10 ms timer fires:
median, 99th percentile, worst), and in the ladder phase how far behind the screen is:
the ladder's redraws a second and how long a book update waits for the redraw that
shows it (ten redraws a second: 100 ms at most when it keeps up). Then the ladder's cost
over the baseline.

Run: python bench/ladder.py [--seconds 12] [--step 0.1]   (0.1 s: about 100 depth updates/s)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from ib_async import Ticker

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.sim.scenario import AccountDef, InstrumentDef, Scenario
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.depth_screen import DepthScreen
from ibterm.tui.widgets.ladder import LadderView

SYMBOLS = [f"S{i:03d}" for i in range(100)]
LADDERS = 5  # symbols the ladder is opened on, one after another
LAG_PROBE = 0.01


def bench_scenario(step: float) -> Scenario:
    instruments = [InstrumentDef(symbol=s, price=50.0 + i, volatility=0.6)
                   for i, s in enumerate(SYMBOLS)]
    return Scenario(tick_interval=step, account_update_interval=60.0, instruments=instruments,
                    accounts=[AccountDef(id="DU1000001", positions=[])], pacing_limit=0)


def feeder_main(pipe: Connection, step: float) -> None:
    async def run() -> None:
        server = SimServer(bench_scenario(step), seed=1)
        await server.start()
        pipe.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"
        await server.stop()
    asyncio.run(run())


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    cpu: float = 0.0
    quotes: int = 0
    depth: int = 0
    prints: int = 0
    lags: list[float] = field(default_factory=list)
    redraws: int = 0
    # From a book update's arrival to the ladder's redraw that shows it.
    delays: list[float] = field(default_factory=list)

    def report(self) -> str:
        lags = sorted(self.lags) or [0.0]
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        s = self.seconds or 1.0
        text = (f"{self.name:>8}: {self.quotes / s:7.0f} quote ticks/s"
                f"  cpu {self.cpu / s * 100:5.1f}%"
                f"  loop lag ms median {statistics.median(lags) * 1000:5.1f}"
                f" p99 {p99 * 1000:6.1f} max {lags[-1] * 1000:6.1f}")
        if self.depth:
            delays = sorted(self.delays) or [0.0]
            text += (f"\n{'':>10}{self.depth / s:7.0f} depth updates/s, {self.prints / s:5.1f}"
                     f" prints/s; ladder redraws {self.redraws / s:4.1f}/s; an update on "
                     f"screen after ms median {statistics.median(delays) * 1000:5.1f}, worst "
                     f"{delays[-1] * 1000:5.1f}")
        return text


class Meter:
    """Counts what arrives at the session's ib_async, at its pendingTickers hook."""

    def __init__(self) -> None:
        self.phase: Phase | None = None
        self.book: Ticker | None = None  # the ladder's book
        self.unshown_since: float | None = None  # the first book update not yet drawn

    def on_tickers(self, tickers: set[Ticker]) -> None:
        phase = self.phase
        if phase is None:
            return
        for t in tickers:
            if t is self.book and t.domTicks and self.unshown_since is None:
                self.unshown_since = time.monotonic()
            phase.quotes += len(t.ticks)
            phase.depth += len(t.domTicks)
            phase.prints += sum(1 for tick in t.tickByTicks if hasattr(tick, "exchange"))


async def _lag_probe(meter: Meter, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        at = loop.time()
        await asyncio.sleep(LAG_PROBE)
        if meter.phase is not None:
            meter.phase.lags.append(max(0.0, loop.time() - at - LAG_PROBE))


async def _measure(meter: Meter, phase: Phase, seconds: float,
                   during: Callable[[], None] | None = None) -> None:
    meter.phase = phase
    cpu0, t0 = time.process_time(), time.monotonic()
    if during is not None:
        during()
    await asyncio.sleep(seconds)
    phase.cpu += time.process_time() - cpu0
    phase.seconds += time.monotonic() - t0
    meter.phase = None


async def consume(port: int, seconds: float) -> list[Phase]:
    profile = Profile(port=port, client_id=7, watchlist=SYMBOLS, market_data_lines=120,
                      stale_after=30.0)
    app = IbtermApp(BrokerSession(profile, "bench", TradingMode.DEMO))
    meter = Meter()
    app.session.ib.pendingTickersEvent += meter.on_tickers
    stop = asyncio.Event()
    phases = [Phase("baseline"), Phase("ladder")]
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 60
        while len(app.watchlist.quotes) < len(SYMBOLS):
            assert time.monotonic() < deadline, "the watchlist never filled"
            await pilot.pause(0.2)
        probe = asyncio.create_task(_lag_probe(meter, stop))
        await _measure(meter, phases[0], seconds)
        per_ladder = seconds / LADDERS
        for row in range(LADDERS):
            app.watchlist.move_cursor(row=row * 20)
            app.action_open_depth()
            await pilot.pause(0.5)  # the book's first rows
            screen = app.screen
            assert isinstance(screen, DepthScreen)
            _count_redraws(screen, phases[1], meter)
            await _measure(meter, phases[1], per_ladder)
            screen.dismiss(None)
            await pilot.pause(0.2)
        stop.set()
        await probe
    return phases


def _count_redraws(screen: DepthScreen, phase: Phase, meter: Meter) -> None:
    """Each redraw of the ladder, and how long the book update it shows waited."""
    ladder = screen.query_one(LadderView)
    show = ladder.show
    meter.book = screen.session.depth._ticker  # the book's ib_async ticker (bench only)
    meter.unshown_since = None

    def counted(*args: object, **kwargs: object) -> None:
        show(*args, **kwargs)  # type: ignore[arg-type]
        phase.redraws += 1
        if meter.unshown_since is not None:
            phase.delays.append(time.monotonic() - meter.unshown_since)
            meter.unshown_since = None

    ladder.show = counted  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="per phase")
    parser.add_argument("--step", type=float, default=0.1, help="the market's step, s")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    feeder = ctx.Process(target=feeder_main, args=(child, args.step), daemon=True)
    feeder.start()
    port = parent.recv()
    try:
        phases = asyncio.run(consume(port, args.seconds))
    finally:
        parent.send("stop")
        feeder.join(10)
    print(f"100 symbols ticking, the market stepping every {args.step:g} s; "
          f"{args.seconds:g} s a phase, the ladder on {LADDERS} symbols in turn")
    for phase in phases:
        print(phase.report())
    base, ladder = phases
    extra = ladder.cpu / ladder.seconds - base.cpu / base.seconds
    print(f"ladder vs baseline: cpu {extra * 100:+.1f} points "
          f"({ladder.cpu / ladder.seconds / max(1e-9, base.cpu / base.seconds):.2f}x)")


if __name__ == "__main__":
    main()
