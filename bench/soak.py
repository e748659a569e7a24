"""Soak: the app's order path for minutes on end under a fault schedule.

`ibterm sim` runs in a child process with a fault schedule scaled to the run (a dropped
link every minute, bad and crossed ticks, refused orders, a connectivity blip, a stall,
one gateway restart). A
scripted trader drives the app's own broker layer (BrokerSession, OrderPipeline, journal:
everything the TUI uses below its widgets) and places and cancels orders at 5/s, pricing
each order from the app's quote for it. At the end it reconciles and compares, order by
order, what the app believes (what its blotter last showed, and its journal) with what
the simulator holds (its control endpoint's /orders):

  sent          order refs the pipeline handed to the gateway (journal: submitted)
  acknowledged  of those, the ones the gateway holds
  filled        orders the gateway filled (fully or partly)
  refused       intents the pipeline refused before sending: disconnected, a flagged or
                stale quote (a bad tick is never a price reference), …
  not received  sent as the link dropped; the gateway has no record; the app reports it
                after reconnecting and never sends it again
  lost          must be 0: an order whose fate the app has wrong at the end: the gateway
                holds it and the app does not know it; or they disagree on its fate
                (working, filled, cancelled, never there) or on the quantity filled
                (blotter or journal); or it vanished without the app saying so
  duplicated    must be 0: an order ref the gateway holds more than once
  reconnects    and the longest time from losing the link to trading again
  kill switches fired (one in each journal window below, one outside), and how many
                reached the gateway (none of our orders left working there within 10 s),
                with the longest time it took: every one must
  journal       two windows in which every journal write fails, injected into the real
                journal: an I/O error, then a full disk. New orders fail closed (refused
                as "not sent", trading HALTs), cancels and kill switches still go out; the
                trader resumes once the journal writes again (refused while it cannot),
                and the reconciliation puts back in the journal what it missed
  memory        this process's RSS at start (after connecting), half-way and at the end,
                sampled every 10 s, each after a full collection and malloc_trim (so
                what is measured is memory held, not the allocator's high-water mark);
                the end's untrimmed RSS too

With --app the trader drives the whole Textual app, headless (see AppSoak).

Run: python bench/soak.py [--duration 600] [--rate 5] [--app] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import logging
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal, read_events
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.domain.orders import (
    CheckResult,
    Confirmation,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TradingState,
)
from ibterm.domain.ticks import round_in_favour
from ibterm.sim import control

SYMBOLS = ("AAPL", "MSFT", "SPY")
CLIENT_ID = 21
WORKING = {"PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel", "ApiPending",
           "Submitted-unacknowledged"}


def schedule(duration: float) -> list[dict[str, Any]]:
    """The soak's faults, scaled so a short run sees each kind: drops every minute (every
    third of a short run), bad ticks and refused orders every few seconds, a blip, a
    stall, one restart."""
    drop_every = min(60.0, duration / 3)
    return [
        {"at": drop_every, "every": drop_every, "fault": "drop"},
        {"at": 3, "every": 7, "fault": "bad_tick", "symbol": "AAPL", "factor": 10},
        {"at": 5, "every": 11, "fault": "bad_tick", "symbol": "MSFT", "crossed": True},
        {"at": round(duration * 0.25, 1), "fault": "connectivity", "code": 1100},
        {"at": round(duration * 0.25 + 2, 1), "fault": "connectivity", "code": 1101},
        {"at": round(duration * 0.55, 1), "fault": "restart"},
        # A gateway that stops answering for a while, then answers everything at once.
        {"at": round(duration * 0.4, 1), "fault": "stall", "seconds": 3},
        {"at": 9, "every": 13, "fault": "reject_next_order", "code": 201,
         "message": "Order rejected - reason:soak"},
    ]


def journal_windows(duration: float) -> list[tuple[float, float, str]]:
    """(start, end, error): when, from the trader's start, every journal write fails, and
    with what. Short enough to leave the run mostly trading, long enough to hold a kill
    switch and a few refusals."""
    length = min(10.0, max(3.0, duration * 0.02))
    return [(round(duration * 0.3, 1), round(duration * 0.3 + length, 1), "disk I/O error"),
            (round(duration * 0.7, 1), round(duration * 0.7 + length, 1),
             "database or disk is full")]


def kill_times(duration: float) -> list[float]:
    """A kill switch one second into each journal window, and one with the journal fine."""
    return [start + 1.0 for start, _, _ in journal_windows(duration)] + [
        round(duration * 0.9, 1)]


class FaultyJournal(Journal):
    """The real journal, with a switch that makes every write fail as SQLite reports a
    failing disk (`disk I/O error`) or a full one (`database or disk is full`)."""

    def __init__(self, path: Path, profile: str):
        super().__init__(path, profile)
        self.failing = ""  # the error every write raises while set
        self.failed_writes = 0

    def record(self, kind: str, *, intent_id: str = "", order_ref: str = "", symbol: str = "",
               **data: Any) -> None:
        if self.failing:
            self.failed_writes += 1
            raise sqlite3.OperationalError(self.failing)
        super().record(kind, intent_id=intent_id, order_ref=order_ref, symbol=symbol, **data)


def settled_rss_mib() -> float:
    """RSS once freed memory is handed back: a full collection, then glibc's malloc_trim.
    Without it RSS keeps the high-water mark of transient peaks (a reconnect's burst of
    replies) and fragmentation, which is not memory the process holds on to."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def sample_rss(samples: list[float], every: float) -> None:
    while True:
        samples.append(settled_rss_mib())
        await asyncio.sleep(every)


class Trader:
    """The scripted trader: confirms what the pipeline asks, never overrides a breach."""

    async def __call__(self, intent: OrderIntent, checks: list[CheckResult]) -> Confirmation:
        return Confirmation(True, frozenset())


def soak_session(port: int) -> BrokerSession:
    profile = Profile(port=port, client_id=CLIENT_ID, watchlist=list(SYMBOLS),
                      connect_timeout=5, confirm_orders=False, flood_intents=10_000)
    return BrokerSession(profile, "soak", TradingMode.PAPER)


class Soak:
    """The scripted trader on the app's broker layer (no widgets)."""

    def __init__(self, port: int, workdir: Path, rate: float):
        self.port = port
        self.rate = rate
        self.session = soak_session(port)
        self.journal_path = workdir / "journal.sqlite3"
        self.journal = FaultyJournal(self.journal_path, "soak")
        self.pipeline = self._pipeline()
        self.refused: Counter[str] = Counter()
        self.working: list[str] = []
        # What the blotter shows of each order: its last update (status, filled).
        self.view: dict[str, tuple[str, float]] = {}
        self.lost_at: float | None = None
        self.outages: list[float] = []
        self.session.status_listeners.append(self._on_status)
        self.kills: list[float | None] = []  # seconds to reach the gateway; None: never
        self._killing = False  # a kill switch's check is running: the trader waits
        self._resume_at = 0.0

    def _pipeline(self) -> OrderPipeline:
        return OrderPipeline(self.session, self.journal, Trader())

    def _on_status(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            if self.lost_at is not None:
                self.outages.append(time.monotonic() - self.lost_at)
                self.lost_at = None
        elif self.lost_at is None and status.state in (
                ConnectionState.LOST, ConnectionState.RECONNECTING,
                ConnectionState.DISCONNECTED):
            self.lost_at = time.monotonic()

    def _intent(self, n: int) -> OrderIntent | None:
        item = self.session.watchlist[n % len(self.session.watchlist)]
        inst = item.instrument
        quote = self.session.quote(inst.con_id) if inst is not None else None
        if inst is None or quote is None or not quote.bid or not quote.ask:
            return None
        side = Side.BUY if n % 2 == 0 else Side.SELL
        touch = quote.ask if side is Side.BUY else quote.bid
        # One order in four crosses the spread and fills; the rest rest 1% away.
        away = -0.01 * touch if n % 4 else 0.002 * touch
        price = round_in_favour(touch + side.sign * away, inst.min_tick, side)
        return OrderIntent((OrderSpec(inst, side, 1, OrderType.LMT, limit=price),),
                           source="soak")

    def _drain(self) -> None:
        self.session.drain()
        for update in self.pipeline.drain().orders:
            self.view[update.order_ref] = (update.status, update.filled)
            if update.status in WORKING - {"PendingCancel"}:
                if update.order_ref not in self.working:
                    self.working.append(update.order_ref)
            elif update.order_ref in self.working:
                self.working.remove(update.order_ref)

    async def run(self, duration: float) -> None:
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        end = next_at + duration
        for n in itertools.count():
            if loop.time() >= end:
                break
            await self._drain_async()
            self._maybe_resume(loop.time())
            if n % 2 and self.working:
                if not self._cancel(self.working.pop(0)):
                    self.refused["cancel: not working"] += 1
            else:
                intent = self._intent(n // 2)
                if intent is None:
                    self.refused["no quote"] += 1
                else:
                    await self._place(intent)
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _drain_async(self) -> None:
        self._drain()

    def _maybe_resume(self, now: float) -> None:
        """A HALT by the journal (or a kill switch whose check is over) is resumed, as a
        trader would, once a second: refused while the journal still cannot be written."""
        if (self.pipeline.state is TradingState.HALTED and not self._killing
                and now >= self._resume_at):
            self._resume_at = now + 1.0
            self.pipeline.resume()

    async def faults(self, duration: float) -> None:
        """The journal windows and the kill switches, on the trader's clock."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        events: list[tuple[float, str, str]] = []
        for begin, end, error in journal_windows(duration):
            events += [(begin, "fail", error), (end, "heal", "")]
        events += [(at, "kill", "") for at in kill_times(duration)]
        for at, what, error in sorted(events):
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            if what == "fail":
                self.journal.failing = error
            elif what == "heal":
                self.journal.failing = ""
            else:
                await self.kill_and_check()

    async def kill_and_check(self, timeout: float = 10.0) -> None:
        """The kill switch, then the gateway asked until none of our orders works there:
        a global cancel that does not reach it counts as None."""
        self._killing = True
        try:
            fired = time.monotonic()
            self.pipeline.kill()
            loop = asyncio.get_running_loop()
            while time.monotonic() - fired < timeout:
                await asyncio.sleep(0.25)
                try:
                    orders = await loop.run_in_executor(None, control.call, self.port,
                                                        "/orders")
                except (OSError, control.ControlError):
                    continue  # the simulator restarting: ask again
                if not any(o["client_id"] == CLIENT_ID and o["status"] in WORKING
                           for o in orders):
                    self.kills.append(time.monotonic() - fired)
                    return
            self.kills.append(None)
        finally:
            self._killing = False

    def _cancel(self, ref: str) -> bool:
        return self.pipeline.cancel(ref)

    async def _place(self, intent: OrderIntent) -> None:
        result = await self.pipeline.submit(intent)
        if result.outcome is not Outcome.QUEUED:
            reason = result.message.split(":")[0] or result.outcome.value
            self.refused[reason] += 1

    async def start(self) -> bool:
        return await self.session.start()

    async def close(self) -> None:
        await self.session.close()
        self.journal.close()

    async def settle(self, timeout: float = 30.0) -> None:
        """Until connected, the queue empty and the last reconciliation done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (self.session.connected
                                                   and not self.pipeline.queue):
            await self._drain_async()
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # the last acknowledgements
        await self._drain_async()
        await self.pipeline.reconcile()
        await asyncio.sleep(0.6)  # the app's own drain shows it in the blotter
        await self._drain_async()


class AppSoak(Soak):
    """The scripted trader at the whole app, headless: orders go in as the ticket sends
    them (the app's submit worker, its confirmation modal, its notifications), cancels as
    the blotter asks for them, and what counts is what the blotter shows. A confirmation
    that needs an override is declined, as a careful trader would."""

    def _pipeline(self) -> OrderPipeline:
        from ibterm.tui.app import IbtermApp

        self.app = IbtermApp(self.session, self.journal)
        self._running: contextlib.AbstractAsyncContextManager[Any] | None = None
        self.pilot: Any = None
        return self.app.pipeline

    async def start(self) -> bool:
        self._running = self.app.run_test(headless=True, size=(120, 40))
        self.pilot = await self._running.__aenter__()
        deadline = time.monotonic() + 15
        while not self.session.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.session.connected

    async def close(self) -> None:
        if self._running is not None:
            await self._running.__aexit__(None, None, None)
        self.journal.close()

    def _drain(self) -> None:
        pass  # the app drains the session and the pipeline itself, four times a second

    async def _drain_async(self) -> None:
        from ibterm.tui.widgets.confirm import ConfirmOrder

        if isinstance(self.app.screen, ConfirmOrder):
            self.refused["declined in the confirmation"] += 1
            await self.pilot.press("escape")
        for ref, update in self.app.orders.orders.items():
            self.view[ref] = (update.status, update.filled)
        self.working = [ref for ref, (status, _) in self.view.items()
                        if status in WORKING - {"PendingCancel"}]

    def _cancel(self, ref: str) -> bool:
        from ibterm.tui.widgets.orders import OrdersTable

        self.app.post_message(OrdersTable.CancelRequested(ref, False))
        return True

    async def _place(self, intent: OrderIntent) -> None:
        self.app.submit(intent)  # the app's worker, as when the ticket sends an order


def _fate(status: str) -> str:
    """An order's status reduced to what must agree between the app and the gateway."""
    if status in WORKING:
        return "working"
    if status in ("Cancelled", "ApiCancelled", "Inactive"):
        return "cancelled"
    return status  # Filled, NotSent, NotReceived, "" (unknown)


def compare(journal_path: Path, server_orders: list[dict[str, Any]],
            view: dict[str, tuple[str, float]] | None = None) -> dict[str, int]:
    """Order by order, the app against the gateway. The app's view is what its blotter
    last showed (`view`), else its journal: both must agree with the gateway on the
    order's fate (working, filled, cancelled, never there) and on the quantity filled."""
    journal = Journal(journal_path, "soak")
    try:
        states = journal.order_states()
    finally:
        journal.close()
    events = list(read_events(journal_path))
    filled_by_journal: Counter[str] = Counter()
    for e in events:
        if e.kind == "fill":
            filled_by_journal[e.order_ref] += float(e.data.get("shares", 0.0))
    ours = [o for o in server_orders if o["client_id"] == CLIENT_ID]
    held = Counter(o["order_ref"] for o in ours)
    server = {o["order_ref"]: o for o in ours}
    sent = {e.order_ref for e in events if e.kind == "submitted"}
    lost = 0
    for ref in sent | set(server):
        journal_status = states.get(ref, ("", ""))[0]
        app_status, app_filled = (view or {}).get(ref, (journal_status, filled_by_journal[ref]))
        gateway = server.get(ref)
        if ref not in states:
            lost += 1  # the gateway works an order the app never heard of
        elif gateway is None:
            # Never arrived: fine only if the app says so (refused by the gateway with an
            # error, or found missing by the reconciliation) and never counts it filled.
            lost += _fate(app_status) in ("working", "Filled", "") or app_filled > 0
        else:
            lost += (_fate(app_status) != _fate(gateway["status"])
                     or abs(app_filled - gateway["filled"]) > 1e-9
                     or abs(filled_by_journal[ref] - gateway["filled"]) > 1e-9)
    return {
        "sent": len(sent),
        "acknowledged": len(sent & set(server)),
        "filled": sum(1 for o in ours if o["filled"] > 0),
        "not_received": sum(1 for ref in sent if states.get(ref, ("",))[0] == "NotReceived"),
        "lost": lost,
        "duplicated": sum(c - 1 for c in held.values() if c > 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Nothing of the user's (config, risk tables, themes, journal) is read or written.
        os.environ["IBTERM_CONFIG"] = str(workdir / "config.yaml")
        os.environ["IBTERM_DATA_DIR"] = str(workdir / "data")
        scenario = workdir / "soak.yaml"
        scenario.write_text(yaml.safe_dump({"faults": schedule(args.duration)}))
        sim = subprocess.Popen([sys.executable, "-m", "ibterm", "sim", "--port", "0",
                                "--seed", str(args.seed), "--scenario", str(scenario)],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert sim.stdout is not None
            port = int(sim.stdout.readline().rsplit(":", 1)[1])
            soak = (AppSoak if args.app else Soak)(port, workdir, args.rate)
            if not await soak.start():
                raise SystemExit("soak: could not connect to the simulator")
            await asyncio.sleep(1.0)  # first quotes
            if args.trace_memory:
                tracemalloc.start(12)
            rss_start = settled_rss_mib()
            started = time.monotonic()
            # Memory is sampled through the run: the growth that matters is the second
            # half's, after the caches and the first reconnects have settled.
            samples: list[float] = []
            sampler = asyncio.get_running_loop().create_task(sample_rss(samples, 10.0))
            faults = asyncio.get_running_loop().create_task(soak.faults(args.duration))
            await soak.run(args.duration / 2)
            rss_half = settled_rss_mib()
            if args.trace_memory:
                trace_start = tracemalloc.take_snapshot()
            await soak.run(args.duration / 2)
            sampler.cancel()
            await faults  # the last kill switch's check
            soak.journal.failing = ""
            await soak.settle()
            elapsed = time.monotonic() - started
            rss_end_raw = rss_mib()
            rss_end = settled_rss_mib()
            if args.trace_memory:
                diff = tracemalloc.take_snapshot().compare_to(trace_start, args.trace_by)
                total = sum(stat.size_diff for stat in diff)
                print(f"traced Python memory growth: {total / 2**20:+.1f} MiB", file=sys.stderr)
                for stat in diff[:args.trace_memory]:
                    print(stat, file=sys.stderr)
                    for line in stat.traceback.format()[-8:]:
                        print("   ", line, file=sys.stderr)
            loop = asyncio.get_running_loop()
            server_orders = await loop.run_in_executor(None, control.call, port, "/orders")
            await soak.close()
            figures = compare(soak.journal_path, server_orders, soak.view)
        finally:
            sim.terminate()
            sim.wait(10)
    return {
        "duration_s": round(elapsed, 1),
        **figures,
        "refused": dict(soak.refused),
        "reconnects": len(soak.outages),
        "kill_switches": len(soak.kills),
        "kill_switches_reached": sum(k is not None for k in soak.kills),
        "max_kill_s": round(max((k for k in soak.kills if k is not None), default=0.0), 2),
        "journal_failed_writes": soak.journal.failed_writes,
        "max_reconnect_s": round(max(soak.outages, default=0.0), 2),
        "rss_start_mib": round(rss_start, 1),
        "rss_half_mib": round(rss_half, 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_end_raw_mib": round(rss_end_raw, 1),
        "rss_samples_mib": [round(x, 1) for x in samples],
    }


def main() -> None:
    # ib_async logs every gateway error (1100, 1101, dropped links …) at ERROR: they are
    # the point of the run, not news.
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--rate", type=float, default=5.0, help="actions a second (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--app", action="store_true",
                        help="drive the whole Textual app (headless), not only its broker "
                             "layer")
    parser.add_argument("--trace-memory", type=int, default=0, metavar="N",
                        help="print the N biggest allocation growths (tracemalloc)")
    parser.add_argument("--trace-by", choices=("lineno", "filename", "traceback"),
                        default="lineno", help="how --trace-memory groups allocations")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report))
        return
    print(f"soak: {report['duration_s']} s at {args.rate:g} actions/s under faults")
    for key in ("sent", "acknowledged", "filled", "not_received", "lost", "duplicated",
                "reconnects", "max_reconnect_s", "kill_switches", "kill_switches_reached",
                "max_kill_s", "journal_failed_writes", "rss_start_mib", "rss_half_mib",
                "rss_end_mib"):
        print(f"  {key:<16} {report[key]}")
    print(f"  {'refused':<16} {report['refused']}")
    growth = report["rss_end_mib"] - report["rss_start_mib"]
    late = report["rss_end_mib"] - report["rss_half_mib"]
    print(f"  memory growth    {growth:+.1f} MiB in all, {late:+.1f} MiB in the second half")
    print(f"  memory samples   {report['rss_samples_mib']} (every 10 s)")
    print(f"  RSS at the end before trimming: {report['rss_end_raw_mib']} MiB")


if __name__ == "__main__":
    main()
