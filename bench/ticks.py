"""Tick throughput: the bare ib_async client vs the headless app, over a real socket.

A feeder process runs the simulator with 100 symbols and, once a consumer has subscribed
to all of them, replays pre-encoded tickPrice frames over the socket at a controlled rate
or flat out. Each consumer runs in a process of its own, beside its feeder, so its CPU
time is that process's:

  (a) bare: an ib_async IB() with 100 market data subscriptions, nothing else;
  (b) app:  the headless ibterm app: the broker session, its tick bookkeeping and the
            batched table updates (Textual's run_test, 160x120 screen).

Both count ticks at the same hook (the wrapper's priceSizeTick), so the count costs both
the same. Printed: ticks/s each consumer keeps up with (all ticks processed, lag under a
bound); saturated throughput, the median of SATURATED_BLASTS flat-out blasts per consumer
and round. In a round both consumers are up and their blasts alternate (bare, app, app,
bare, ...), so that the two are compared on the machine of the same few seconds: on a
shared machine the pace moves by a fifth from one blast to the next. The consumer not
blasting is stopped (SIGSTOP), so that the app's idle timers take nothing from the bare
client's blasts. Then consumer CPU seconds per 1,000 ticks, the feeder's own
CPU per 1,000 ticks (to show the producer is not the bottleneck), the app/bare ratio,
and where each consumer's time went in its median blast: reading the socket (ib_async's
decoding and the handlers of its events, the app's quote book among them), the app's
batched table updates, Textual's frames, and Python's garbage collector (timed inside
the others).

Run: make bench   (or python bench/ticks.py --quick, --rounds N)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from ib_async import IB, Contract
from ib_async.client import Client
from textual.screen import Screen

from feeder import blast, feed
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import ConnectionState, TradingMode
from ibterm.sim.scenario import AccountDef, InstrumentDef, Scenario
from ibterm.sim.server import ClientConnection, SimServer
from ibterm.sim.wire import market_data as m
from ibterm.tui.app import IbtermApp

SYMBOLS = [f"S{i:03d}" for i in range(100)]
KEEP_UP_LAG = 0.5  # seconds after the last tick was sent: beyond this, it fell behind
FRAMES_PER_SYMBOL = 64
SATURATED_BLASTS = 5  # per consumer and round; the median counts


def bench_scenario() -> Scenario:
    instruments = [InstrumentDef(symbol=s, price=50.0 + i, volatility=0.3)
                   for i, s in enumerate(SYMBOLS)]
    # Pacing off: this measures throughput, and subscribing to 100 symbols is a burst.
    return Scenario(tick_interval=0.0, account_update_interval=60.0, instruments=instruments,
                    accounts=[AccountDef(id="DU1000001", positions=[])], pacing_limit=0)


# --- feeder (child process) ---------------------------------------------------------------
def feeder_main(pipe: Connection) -> None:
    asyncio.run(feed(pipe, bench_scenario(), _frames))


def _frames(_server: SimServer, conn: ClientConnection) -> list[bytes] | None:
    """FRAMES_PER_SYMBOL bids and asks for every subscription, interleaved; None until
    every symbol is subscribed."""
    if len(conn.quotes) < len(SYMBOLS):
        return None
    frames = []
    for variant in range(FRAMES_PER_SYMBOL):
        for req_id in conn.quotes:
            tick_type = m.BID if variant % 2 == 0 else m.ASK
            price = 100.0 + variant * 0.01 + (0.02 if tick_type == m.ASK else 0.0)
            frames.append(m.tick_price(req_id, tick_type, round(price, 2), 100 + variant))
    return frames


# --- consumers (a process each: consumer_main) -------------------------------------------
@dataclass
class Counter:
    count: int = 0
    first: float = 0.0
    last: float = 0.0

    def hook(self, ib: IB) -> None:
        original = ib.wrapper.priceSizeTick

        def counted(req_id: int, tick_type: int, price: float, size: float) -> None:
            self.count += 1
            self.last = time.monotonic()
            if not self.first:
                self.first = self.last
            original(req_id, tick_type, price, size)

        ib.wrapper.priceSizeTick = counted  # type: ignore[method-assign]


@dataclass
class Result:
    name: str
    keep_up: dict[int, tuple[bool, float, float]]  # rate -> (kept up, lag s, cpu/1k ticks)
    saturated: float = 0.0
    cpu_per_1k: float = 0.0
    feeder_cpu_per_1k: float = 0.0
    parts: dict[str, float] | None = None  # the median blast's seconds, by part
    blasts: list[float] = field(default_factory=list)  # each saturated blast's ticks/s


# The parts of a consumer's time, timed around these methods: (label, class, method).
PARTS = [
    ("socket", Client, "_onSocketHasData"),
    ("tables", IbtermApp, "refresh_from_session"),
    ("frames", Screen, "_on_timer_update"),
]


class Meter:
    """Seconds spent in each part while a meter is on, and in the garbage collector.

    The parts are wrapped once, before any consumer exists (ib_async, the app's timer and
    the screen's keep the bound methods they are given); a wrapper costs a clock read per
    call, and the parts are called tens of times a second."""

    active: Meter | None = None

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {label: 0.0 for label, _, _ in PARTS} | {"gc": 0.0}
        self._gc_start = 0.0

    @staticmethod
    def install() -> None:
        for label, cls, name in PARTS:
            setattr(cls, name, Meter._timed(label, cls.__dict__[name]))
        gc.callbacks.append(Meter._on_gc)

    def __enter__(self) -> Meter:
        Meter.active = self
        return self

    def __exit__(self, *_exc: object) -> None:
        Meter.active = None

    @staticmethod
    def _timed(label: str, original: Callable[..., object]) -> Callable[..., object]:
        def timed(*args: object, **kwargs: object) -> object:
            meter = Meter.active
            if meter is None:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                meter.seconds[label] += time.perf_counter() - start

        return timed

    @staticmethod
    def _on_gc(phase: str, _info: dict[str, int]) -> None:
        meter = Meter.active
        if meter is None:
            return
        if phase == "start":
            meter._gc_start = time.perf_counter()
        elif meter._gc_start:
            meter.seconds["gc"] += time.perf_counter() - meter._gc_start


Blast = tuple[float, float, dict[str, float], float]  # ticks/s, CPU s, s by part, feeder CPU s


async def _serve(name: str, pipe: Connection, control: Connection, counter: Counter,
                 rates: list[int], seconds: float, saturate: int,
                 idle: Callable[[], object]) -> None:
    """The keep-up rates, then saturated blasts on the round's command (control), each
    answered as a Blast; at "done", the keep-up result."""
    result = Result(name, {})
    loop = asyncio.get_running_loop()

    async def quiet() -> None:
        """Wait until nothing arrives for a while (subscription snapshots, a previous run)."""
        while True:
            before = counter.count
            await idle()
            if counter.count == before:
                return

    for rate in rates:
        n = int(rate * seconds)
        await quiet()
        cpu0 = time.process_time()
        received, lag = await blast(pipe, counter, n, rate)
        cpu = time.process_time() - cpu0
        result.keep_up[rate] = (received == n and lag < KEEP_UP_LAG, lag, cpu / n * 1000)
    await quiet()
    control.send("ready")
    while await loop.run_in_executor(None, control.recv) != "done":
        await quiet()
        control.send(await _saturated(pipe, counter, saturate))
    control.send(result)


async def _saturated(pipe: Connection, counter: Counter, saturate: int) -> Blast:
    """One flat-out blast: (ticks/s, consumer CPU s, seconds by part, feeder CPU s)."""
    start = counter.count
    counter.first = 0.0
    with Meter() as meter:
        cpu0 = time.process_time()
        pipe.send(("blast", saturate, 0))
        loop = asyncio.get_running_loop()
        reply = loop.run_in_executor(None, pipe.recv)
        while counter.count - start < saturate:
            await asyncio.sleep(0.002)
        t_end = counter.last
        cpu = time.process_time() - cpu0
    _sent_at, _send_s, feeder_cpu = await reply
    return saturate / (t_end - counter.first), cpu, meter.seconds | {"cpu": cpu}, feeder_cpu


async def run_bare(pipe: Connection, port: int, control: Connection, rates: list[int],
                   seconds: float, saturate: int) -> None:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
    counter = Counter()
    counter.hook(ib)
    contracts = await ib.qualifyContractsAsync(*[Contract(symbol=s, secType="STK",
                                                          exchange="SMART", currency="USD")
                                                 for s in SYMBOLS])
    for c in contracts:
        ib.reqMktData(c)
    await _until_subscribed(pipe, 1)
    await _serve("bare ib_async", pipe, control, counter, rates, seconds, saturate,
                 lambda: asyncio.sleep(0.3))
    ib.disconnect()


async def run_app(pipe: Connection, port: int, control: Connection, rates: list[int],
                  seconds: float, saturate: int) -> None:
    profile = Profile(port=port, client_id=2, watchlist=SYMBOLS, connect_timeout=20)
    session = BrokerSession(profile, "bench", TradingMode.DEMO)
    app = IbtermApp(session)
    counter = Counter()
    counter.hook(session.ib)
    async with app.run_test(size=(160, 120)) as pilot:
        while session.status.state is not ConnectionState.CONNECTED:
            await pilot.pause(0.05)
        await _until_subscribed(pipe, 2)
        await _serve("headless app", pipe, control, counter, rates, seconds, saturate,
                     lambda: pilot.pause(0.3))
        rows = app.query_one("#watchlist").row_count  # type: ignore[attr-defined]
        assert rows == len(SYMBOLS), rows
        await session.close()


async def _until_subscribed(pipe: Connection, client_id: int) -> None:
    for _ in range(400):
        await asyncio.sleep(0.05)
        pipe.send(("prepare", client_id))
        if pipe.recv():
            return
    raise TimeoutError("the consumer never subscribed to every symbol")


RUNNERS = {"bare": run_bare, "app": run_app}


def consumer_main(kind: str, control: Connection, rates: list[int], seconds: float,
                  saturate: int, profile_to: str | None) -> None:
    """A consumer process: its own feeder process, the consumer (bare or app) in this
    one, serving the round's commands (_serve)."""
    Meter.install()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=feeder_main, args=(child,), daemon=True)
    proc.start()
    child.close()  # (a feeder that dies fails the read instead of hanging it)
    port = parent.recv()
    gc.collect()
    try:
        coro = RUNNERS[kind](parent, port, control, rates, seconds, saturate)
        if profile_to:
            import cProfile

            # CPU time, not wall time: the process is stopped while the other blasts.
            with cProfile.Profile(time.process_time) as prof:
                asyncio.run(coro)
            prof.dump_stats(profile_to)
        else:
            asyncio.run(coro)
    finally:
        parent.send(("stop",))
        proc.join(10)


def blast_order(count: int) -> list[tuple[str, str]]:
    """The blasts of a round, in this order: ABBA, so that a machine growing faster or
    slower through the round costs both consumers the same."""
    return [("bare", "app") if i % 2 == 0 else ("app", "bare") for i in range(count)]


def start_consumer(kind: str, rates: list[int], seconds: float, saturate: int,
                   profile_to: str | None = None) -> tuple[Connection, BaseProcess]:
    """A consumer process (consumer_main) and the end of its control pipe. Only the
    process holds the other end: if it dies, a read here fails (EOFError) instead of
    waiting for ever."""
    ctx = mp.get_context("spawn")
    control, child = ctx.Pipe()
    proc = ctx.Process(target=consumer_main, args=(
        kind, child, rates, seconds, saturate, profile_to))
    proc.start()
    child.close()
    return control, proc


@contextmanager
def _stopped(proc: BaseProcess) -> Iterator[None]:
    """The process stopped (SIGSTOP) meanwhile, and let go on whatever happens."""
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def play_round(rates: list[int], seconds: float, saturate: int, count: int = SATURATED_BLASTS,
               profile_to: str | None = None) -> tuple[Result, Result]:
    """Both consumers up at once, each in its own process against its own feeder, their
    saturated blasts alternated (blast_order), a few seconds apart: the ratio of a round
    compares the machine of the same moment. Returns (bare, app), each with its median
    blast."""
    controls: dict[str, Connection] = {}
    procs: dict[str, BaseProcess] = {}
    blasts: dict[str, list[Blast]] = {"bare": [], "app": []}
    try:
        for kind in ("bare", "app"):
            controls[kind], procs[kind] = start_consumer(
                kind, rates, seconds, saturate, profile_to if kind == "app" else None)
            # (the keep-up rates run one consumer at a time)
            assert controls[kind].recv() == "ready"
        for pair in blast_order(count):
            for kind in pair:
                with _stopped(procs["app" if kind == "bare" else "bare"]):
                    controls[kind].send("blast")
                    blasts[kind].append(controls[kind].recv())
        done = {}
        for kind in ("bare", "app"):
            controls[kind].send("done")
            done[kind] = controls[kind].recv()
    finally:
        for proc in procs.values():
            proc.join(30)
            if proc.is_alive():  # (a consumer that failed leaves the other waiting)
                proc.kill()
                proc.join()
    results = []
    for kind in ("bare", "app"):
        result: Result = done[kind]
        ordered = sorted(blasts[kind], key=lambda b: b[0])
        result.saturated, cpu, result.parts, feeder_cpu = ordered[len(ordered) // 2]
        result.blasts = [b[0] for b in blasts[kind]]  # in the order they ran
        result.cpu_per_1k = cpu / saturate * 1000
        result.feeder_cpu_per_1k = feeder_cpu / saturate * 1000
        results.append(result)
    return results[0], results[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (for a smoke test)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="saturated bare/app pairs, interleaved (default 5)")
    parser.add_argument("--blasts", type=int, default=SATURATED_BLASTS,
                        help=f"saturated blasts per consumer and round (default "
                             f"{SATURATED_BLASTS})")
    parser.add_argument("--profile-app", metavar="FILE",
                        help="cProfile the app consumer into FILE (diagnosis only)")
    args = parser.parse_args()
    rates = [5_000, 10_000, 20_000] if not args.quick else [5_000]
    seconds = 3.0 if not args.quick else 1.0
    saturate = 200_000 if not args.quick else 30_000
    rounds = 1 if args.quick else max(1, args.rounds)

    # The keep-up rates once, then rounds of saturated blasts alternated between the two
    # consumers (play_round): the ratio of each round is what the target is about.
    pairs: list[tuple[Result, Result]] = []
    for index in range(rounds):
        round_rates = rates if index == 0 else []
        pairs.append(play_round(round_rates, seconds, saturate, max(1, args.blasts),
                                args.profile_app if index == 0 else None))
    bare, app = pairs[0]
    print(f"ticks benchmark: 100 symbols, tickPrice frames over loopback "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"{'consumer':<14} " + " ".join(f"{r:>7,}/s" for r in rates)
          + "   saturated ticks/s   CPU s/1k ticks   feeder CPU s/1k")
    for r in (bare, app):
        cells = " ".join(f"{('ok' if ok else 'BEHIND'):>6}{'':>3}" for ok, _lag, _c in
                         (r.keep_up[x] for x in rates))
        print(f"{r.name:<14} {cells}   {r.saturated:>17,.0f}   {r.cpu_per_1k:>14.4f}"
              f"   {r.feeder_cpu_per_1k:>15.4f}")
    for r in (bare, app):
        lags = ", ".join(f"{x:,}/s lag {r.keep_up[x][1] * 1000:.0f} ms" for x in rates)
        print(f"  {r.name}: {lags}")
    print("saturated rounds (both consumers up, each against its own feeder, their blasts "
          "alternated: " + ", ".join(k for pair in blast_order(max(1, args.blasts))
                                     for k in pair)
          + "; the other stopped meanwhile):")
    print(f"  {'round':>5} {'bare ticks/s':>13} {'app ticks/s':>12} {'ratio':>6} "
          f"{'bare ms/1k':>11} {'app ms/1k':>10}   "
          "each blast in turn, k ticks/s (bare | app)")
    ratios = []
    for index, (b, a) in enumerate(pairs, 1):
        ratios.append(a.saturated / b.saturated)
        print(f"  {index:>5} {b.saturated:>13,.0f} {a.saturated:>12,.0f} {ratios[-1]:>6.2f} "
              f"{b.cpu_per_1k * 1000:>11.2f} {a.cpu_per_1k * 1000:>10.2f}   "
              f"{' '.join(f'{x / 1e3:.0f}' for x in b.blasts)} | "
              f"{' '.join(f'{x / 1e3:.0f}' for x in a.blasts)}")
    print("where the saturated runs' time went, ms per 1,000 ticks (socket: ib_async and its "
          "event handlers; tables: the app's batched updates; frames: Textual's rendering; "
          "gc: the collector, inside the others):")
    print(f"  {'round':>5} {'':<5} {'cpu':>6} {'socket':>7} {'tables':>7} {'frames':>7} "
          f"{'gc':>6}")
    for index, (b, a) in enumerate(pairs, 1):
        for label, r in (("bare", b), ("app", a)):
            parts = r.parts or {}
            cells = " ".join(f"{parts.get(k, 0.0) / saturate * 1e6:>{w}.2f}" for k, w in
                             (("cpu", 6), ("socket", 7), ("tables", 7), ("frames", 7),
                              ("gc", 6)))
            print(f"  {index:>5} {label:<5} {cells}")
    print(f"app/bare saturated throughput ratio: min {min(ratios):.2f}, "
          f"median {statistics.median(ratios):.2f} over {len(ratios)} rounds "
          f"(target >= 0.92 in every round)")
    headroom = bare.cpu_per_1k / max(bare.feeder_cpu_per_1k, 1e-9)
    print(f"feeder needs {headroom:.0f}x less CPU per tick than the bare consumer: "
          "the consumer is the bottleneck")
    app_keeps_5k = app.keep_up[5_000][0]
    print(f"app keeps up with 5,000 ticks/s: {'yes' if app_keeps_5k else 'NO'} (target yes)")
    return 0 if (app_keeps_5k and min(ratios) >= 0.8) else 1


if __name__ == "__main__":
    sys.exit(main())
