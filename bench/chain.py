"""The option chain under load: 2 expiries x 60 strikes streaming quotes and greeks while
100 watchlist symbols tick. At what tick rate does the app stop keeping up?

A feeder process runs the simulator (100 symbols, and CHN with a chain of 2 weekly
expiries x 60 strikes), and once the consumer has subscribed replays pre-encoded frames
over the socket at a controlled rate, as bench/ticks.py does: tickPrice bids and asks for
every subscription, and for the options tickOptionComputation (model greeks) as well, a
third of their frames. The consumer is the headless app (Textual's run_test, 160x72) in
this process, with enough market-data lines for everything. Two phases in the same run:

  baseline: the watchlist alone; every frame is a stock's;
  chain:    the chain of CHN open on its first expiry, all 60 strikes on screen, and
            (bench only) the second expiry's 60 quoted beside them: 240 options, each a
            line, 70% of the frames.

Each phase steps the rate up until the app no longer keeps up, ticks.py's criterion: every
frame handled (counted where ib_async hands a tick to its wrapper) and the last one less
than KEEP_UP_LAG after it was sent. Printed for each rate: kept up or BEHIND, the lag, the
app's CPU seconds per 1,000 frames, and in the chain phase the chain's redraws a second;
then the highest rate each phase kept up with.

Run: python bench/chain.py [--seconds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from feeder import blast, feed
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import ConnectionState, TradingMode
from ibterm.domain.instrument import Instrument
from ibterm.sim.scenario import AccountDef, InstrumentDef, OptionChain, Scenario
from ibterm.sim.server import ClientConnection, SimServer
from ibterm.sim.wire import market_data as m
from ibterm.sim.world import PriceModel
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.chain import ChainScreen, ChainView
from ticks import KEEP_UP_LAG

SYMBOLS = [f"S{i:03d}" for i in range(100)]
UNDERLYING = "CHN"
# 60 strikes a dollar apart (71 to 130 about 100.5), on two weekly expiries.
CHAIN = OptionChain(strike_step=1.0, strike_range=0.295, weeklies=2, monthlies=0)
STRIKES, EXPIRIES = 60, 2
OPTIONS = STRIKES * EXPIRIES * 2
LINES = len(SYMBOLS) + 1 + OPTIONS + 20  # the watchlist, the underlying, the chain, spare
# Frames a second, half as many again each step, until the app falls behind.
RATES = [4_000, 6_000, 9_000, 13_000, 20_000, 30_000, 45_000, 68_000, 100_000, 150_000,
         225_000, 340_000]
VARIANTS = 24  # frames per subscription, replayed round and round
SIZE = (160, 72)  # tall enough for every strike: the view gets 60+ rows


def bench_scenario() -> Scenario:
    instruments = [InstrumentDef(symbol=s, price=50.0 + i, volatility=0.3)
                   for i, s in enumerate(SYMBOLS)]
    instruments.append(InstrumentDef(symbol=UNDERLYING, price=100.5, volatility=0.3,
                                     options=CHAIN))
    # Pacing off: subscribing to 340 quotes is a burst; lines counted by the app only.
    return Scenario(tick_interval=0.0, account_update_interval=60.0, instruments=instruments,
                    accounts=[AccountDef(id="DU1000001", positions=[])], pacing_limit=0,
                    market_data_lines=0)


# --- feeder (child process) ---------------------------------------------------------------
def feeder_main(pipe: Connection) -> None:
    asyncio.run(feed(pipe, bench_scenario(), _prepare))


def _prepare(server: SimServer, conn: ClientConnection,
             options_wanted: int) -> list[bytes] | None:
    """The frames of every subscription, once the app has subscribed to every symbol and
    `options_wanted` options; None until then."""
    options = {r for r, sub in conn.quotes.items()
               if server.world.instruments[sub.con_id].model is PriceModel.OPTION}
    if len(options) < options_wanted or len(conn.quotes) - len(options) < len(SYMBOLS):
        return None
    return _frames(conn.quotes, options)


def _frames(quotes: dict, options: set[int]) -> list[bytes]:  # type: ignore[type-arg]
    """Every subscription's frames, interleaved: bids and asks walking a cent a frame from
    the quote sent at subscription (no bad ticks), and for an option a model computation
    every third frame."""
    frames = []
    for variant in range(VARIANTS):
        for req_id, sub in quotes.items():
            bid = sub.sent.get(m.BID) or 1.0
            step = (variant % 4) * 0.01
            if req_id in options and variant % 3 == 2:
                frames.append(m.tick_option_computation(
                    req_id, 13, 0.3 + step, 0.5 - step, bid + step, 0.05, 0.1, -0.02, 100.5))
            elif variant % 2 == 0:
                frames.append(m.tick_price(req_id, m.BID, round(bid + step, 2), 10 + variant))
            else:
                frames.append(m.tick_price(req_id, m.ASK, round(bid + step + 0.02, 2),
                                           10 + variant))
    return frames


# --- the app (this process) --------------------------------------------------------------
@dataclass
class Counter:
    """Frames handled, counted where ib_async's decoder hands them to its wrapper."""

    count: int = 0
    last: float = 0.0

    def hook(self, session: BrokerSession) -> None:
        wrapper = session.ib.wrapper
        for name in ("priceSizeTick", "tickOptionComputation"):
            original = getattr(wrapper, name)

            def counted(*args: object, _original: object = original) -> None:
                self.count += 1
                self.last = time.monotonic()
                _original(*args)  # type: ignore[operator]

            setattr(wrapper, name, counted)


@dataclass
class Step:
    rate: int
    kept_up: bool
    lag: float
    cpu_per_1k: float
    redraws: float  # the chain's a second (0 without it)


@dataclass
class PhaseResult:
    name: str
    steps: list[Step] = field(default_factory=list)

    @property
    def keeps_up(self) -> int:
        """The highest rate kept up with before the first it did not."""
        best = 0
        for step in self.steps:
            if not step.kept_up:
                break
            best = step.rate
        return best


class BothExpiries(ChainScreen):
    """The chain as the app draws it (one expiry, the strikes on screen quoted), quoting
    as well the second expiry's options at the strikes on screen: both expiries stream."""

    def __init__(self, session: BrokerSession, underlying: Instrument,
                 second: list[Instrument]) -> None:
        super().__init__(session, underlying)
        self.second = second
        self.redraws = 0

    def _on_screen(self) -> tuple[Instrument, ...]:
        window = set(self._window())
        return super()._on_screen() + tuple(o for o in self.second if o.strike in window)

    def on_mount(self) -> None:
        super().on_mount()
        view = self.query_one(ChainView)
        show = view.show

        def counted(*args: object, **kwargs: object) -> None:
            self.redraws += 1
            show(*args, **kwargs)  # type: ignore[arg-type]

        view.show = counted  # type: ignore[method-assign]


async def _phase(name: str, pipe: Connection, counter: Counter, seconds: float,
                 pause: object, chain: BothExpiries | None) -> PhaseResult:
    result = PhaseResult(name)

    async def quiet() -> None:
        """Until nothing arrives for a while (snapshots, the previous rate's tail)."""
        while True:
            before = counter.count
            await pause(0.3)  # type: ignore[operator]
            if counter.count == before:
                return

    for rate in RATES:
        n = int(rate * seconds)
        await quiet()
        redraws = chain.redraws if chain else 0
        cpu0, t0 = time.process_time(), time.monotonic()
        received, lag = await blast(pipe, counter, n, rate)
        cpu = time.process_time() - cpu0
        drawn = ((chain.redraws - redraws) / (time.monotonic() - t0)) if chain else 0.0
        step = Step(rate, received == n and lag < KEEP_UP_LAG, lag, cpu / n * 1000, drawn)
        result.steps.append(step)
        print(f"  {name:<8} {rate:>7,}/s  {'ok' if step.kept_up else 'BEHIND':<6} "
              f"lag {lag * 1000:6.0f} ms  CPU {step.cpu_per_1k:.4f} s/1k "
              f"({cpu / (time.monotonic() - t0) * 100:3.0f}%)"
              + (f"  chain redraws {drawn:4.1f}/s" if chain else ""), flush=True)
        if not step.kept_up:
            break
    return result


async def _prepared(pipe: Connection, client_id: int, options: int) -> int:
    for _ in range(600):
        pipe.send(("prepare", client_id, options))
        frames = pipe.recv()
        if frames:
            return int(frames)
        await asyncio.sleep(0.05)
    raise TimeoutError("the app never subscribed to everything")


async def consume(pipe: Connection, port: int, seconds: float) -> list[PhaseResult]:
    profile = Profile(port=port, client_id=3, watchlist=SYMBOLS, connect_timeout=20,
                      market_data_lines=LINES, stale_after=30.0)
    session = BrokerSession(profile, "bench", TradingMode.DEMO)
    app = IbtermApp(session)
    counter = Counter()
    counter.hook(session)
    async with app.run_test(size=SIZE) as pilot:
        while session.status.state is not ConnectionState.CONNECTED:
            await pilot.pause(0.05)
        await _prepared(pipe, 3, 0)
        baseline = await _phase("baseline", pipe, counter, seconds, pilot.pause, None)
        under, why = await session.resolve(UNDERLYING)
        assert under is not None, why
        found, why = await session.options.chain(under)
        assert found is not None and len(found.expiries) == EXPIRIES, why
        assert len(found.strikes) == STRIKES, len(found.strikes)
        second = await session.options.options(under, found.expiries[1])
        screen = BothExpiries(session, under, second)
        await app.push_screen(screen)
        frames = await _prepared(pipe, 3, OPTIONS)
        assert session.options.subscribed == OPTIONS and not session.options.refused
        assert len(screen.rows) == STRIKES, len(screen.rows)
        print(f"  the chain: {len(screen.rows)} strikes on screen, "
              f"{session.options.subscribed} options quoted; {frames} frames replayed")
        chain = await _phase("chain", pipe, counter, seconds, pilot.pause, screen)
        await session.close()
    return [baseline, chain]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per rate")
    parser.add_argument("--quick", action="store_true", help="a second a rate (smoke test)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    print(f"chain benchmark: 100 symbols ticking, a chain of {EXPIRIES} expiries × "
          f"{STRIKES} strikes ({OPTIONS} options) streaming quotes and greeks; "
          f"{seconds:g} s a rate (python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f})", flush=True)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    feeder = ctx.Process(target=feeder_main, args=(child,), daemon=True)
    feeder.start()
    port = parent.recv()
    try:
        baseline, chain = asyncio.run(consume(parent, port, seconds))
    finally:
        parent.send(("stop",))
        feeder.join(10)
    for phase in (baseline, chain):
        stopped = next((s.rate for s in phase.steps if not s.kept_up), None)
        kept = next((s for s in phase.steps if s.rate == phase.keeps_up), None)
        print(f"{phase.name:>8}: keeps up to {phase.keeps_up:,} frames/s"
              + (f", behind at {stopped:,}/s" if stopped else " (the most tried)")
              + (f"; CPU {kept.cpu_per_1k:.4f} s/1k frames there" if kept else ""))
    common = [(b, c) for b in baseline.steps for c in chain.steps
              if b.rate == c.rate and b.kept_up and c.kept_up]
    if common:
        b, c = common[-1]
        print(f"at {b.rate:,} frames/s: CPU per 1,000 frames {c.cpu_per_1k:.4f} s with the "
              f"chain vs {b.cpu_per_1k:.4f} s without ({c.cpu_per_1k / b.cpu_per_1k:.2f}x)")
    return 0 if chain.keeps_up else 1


if __name__ == "__main__":
    sys.exit(main())
