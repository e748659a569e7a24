"""Order latency and round trips: the whole pipeline vs bare ib.placeOrder.

The simulator runs in a child process and stamps each order's arrival (monotonic clock,
shared by both processes). Measured over N sequential orders (each waits for its
acknowledgement before the next):

  latency   from the moment the trader's confirmation returns (pipeline) or placeOrder is
            called (bare) to the order's arrival at the simulator: median and p99;
  round trip from the same moment to the acknowledgement (status Submitted), and round
            trips per second.

Both throttles are out of the way (ib_async's 45/s and the pipeline's order_rate, the
latter by a clock that advances a second per reading), so what differs is the pipeline's
own work: checks, journal writes (SQLite WAL), queueing and tracking.

Run: make bench   (or python bench/orders.py --orders 100)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ib_async import IB, Contract, LimitOrder

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.orders import Confirmation, OrderIntent, OrderSpec, OrderType, Side
from ibterm.sim.order_records import OrderRequest
from ibterm.sim.scenario import Scenario
from ibterm.sim.server import SimServer


def sim_main(pipe: Connection) -> None:
    arrivals: dict[str, float] = {}

    async def run() -> None:
        server = SimServer(Scenario(tick_interval=0.0, account_update_interval=60.0,
                                    pacing_limit=0), seed=1)  # both throttles are off here
        # Stamped where the order, read off the wire, reaches the simulator's order engine
        # (the same few microseconds of parsing before it on both paths). Wrapped on the
        # instance: the connections' message table holds their handlers themselves.
        place = server.orders.place

        def timed(req: OrderRequest, *args: Any, **kwargs: Any) -> Any:
            arrivals[req.order_ref] = time.monotonic()
            return place(req, *args, **kwargs)

        server.orders.place = timed  # type: ignore[method-assign]
        await server.start()
        pipe.send(server.port)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "arrivals":
                pipe.send(dict(arrivals))
            elif command == "stop":
                await server.stop()
                return

    asyncio.run(run())


async def bare(port: int, n: int) -> tuple[dict[str, float], list[float]]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
    ib.client.MaxRequests = 0
    [aapl] = await ib.qualifyContractsAsync(Contract(conId=265598, exchange="SMART"))
    [ticker] = await ib.reqTickersAsync(aapl)
    price = round(ticker.bid - 1.0, 2)
    starts: dict[str, float] = {}
    trips: list[float] = []
    for i in range(n):
        ref = f"bare-{i}"
        done = asyncio.Event()
        t0 = time.monotonic()
        starts[ref] = t0
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 1, price, orderRef=ref))
        trade.statusEvent += lambda t, d=done: d.set() if t.orderStatus.status == "Submitted" \
            else None
        await done.wait()
        trips.append(time.monotonic() - t0)
    ib.disconnect()
    return starts, trips


async def pipeline(port: int, n: int, journal_dir: Path) -> tuple[dict[str, float], list[float]]:
    profile = Profile(port=port, client_id=2, watchlist=["AAPL"], stale_after=3600,
                      flood_intents=1_000_000, order_rate=50)
    session = BrokerSession(profile, "bench", TradingMode.PAPER)
    starts: dict[str, float] = {}
    current: list[str] = [""]

    async def confirm(intent: OrderIntent, checks: object) -> Confirmation:
        starts[current[0]] = time.monotonic()  # the key that confirms
        return Confirmation(True)

    seconds = itertools.count(0.0, 1.0)
    pipe = OrderPipeline(session, Journal(journal_dir / "journal.sqlite3", "bench"), confirm,
                         clock=lambda: next(seconds))
    await session.start()
    session.ib.client.MaxRequests = 0
    while not session.quotes():
        await asyncio.sleep(0.01)
    [item] = session.watchlist
    assert item.instrument is not None
    quote = session.quote(item.instrument.con_id)
    assert quote is not None and quote.bid is not None
    price = round(quote.bid - 1.0, 2)
    trips: list[float] = []
    for _ in range(n):
        spec = OrderSpec(item.instrument, Side.BUY, 1, OrderType.LMT, limit=price)
        intent = OrderIntent((spec,), source="bench")
        ref = intent.order_ref(0)
        current[0] = ref
        result = await pipe.submit(intent)
        assert result.outcome is Outcome.QUEUED, result.message
        while ref not in pipe.trades or pipe.trades[ref].orderStatus.status != "Submitted":
            await asyncio.sleep(0)
        trips.append(time.monotonic() - starts[ref])
    await session.close()
    return starts, trips


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=sim_main, args=(child,), daemon=True)
    proc.start()
    port = parent.recv()
    try:
        bare_starts, bare_trips = asyncio.run(bare(port, args.orders))
        with tempfile.TemporaryDirectory() as tmp:
            pipe_starts, pipe_trips = asyncio.run(pipeline(port, args.orders, Path(tmp)))
        parent.send("arrivals")
        arrivals = parent.recv()
    finally:
        parent.send("stop")
        proc.join(10)
    missing = [r for r in (*bare_starts, *pipe_starts) if r not in arrivals]
    if missing:  # (a stamp that no longer fires would otherwise read as a KeyError)
        print(f"orders benchmark: {len(missing)} orders never stamped at the simulator "
              f"(first: {missing[0]})", file=sys.stderr)
        return 2
    bare_lat = [arrivals[r] - t for r, t in bare_starts.items()]
    pipe_lat = [arrivals[r] - t for r, t in pipe_starts.items()]
    print(f"orders benchmark: {args.orders} sequential limit orders each, simulator in a "
          f"separate process (python {sys.version.split()[0]})")
    print(f"{'path':<22}{'latency median':>16}{'p99':>10}{'round trip median':>20}"
          f"{'p99':>10}{'round trips/s':>15}")
    rows = (("bare ib.placeOrder", bare_lat, bare_trips), ("pipeline", pipe_lat, pipe_trips))
    for name, lat, trips in rows:
        lm, lp = _ms(lat)
        tm, tp = _ms(trips)
        rate = len(trips) / sum(trips)
        print(f"{name:<22}{lm:>13.3f} ms{lp:>7.3f} ms{tm:>17.3f} ms{tp:>7.3f} ms{rate:>15,.0f}")
    added = _ms(pipe_lat)[0] - _ms(bare_lat)[0]
    ratio = (len(pipe_trips) / sum(pipe_trips)) / (len(bare_trips) / sum(bare_trips))
    print(f"pipeline adds {added:.3f} ms to the median latency (target < 2 ms); "
          f"round trips/s pipeline/bare = {ratio:.2f}")
    return 0 if added < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
