"""The order pipeline against the simulator: checks, confirmation, throttle, journal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ibterm.broker.approval import Outcome
from ibterm.broker.journal import Journal, read_events
from ibterm.broker.pipeline import OrderPipeline
from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Limits, Profile
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.orders import (
    CheckResult,
    Confirmation,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TradingState,
)
from ibterm.sim.server import SimServer


class Trader:
    """Stands in for the confirmation dialog: records what it was shown, answers as told."""

    def __init__(self) -> None:
        self.approve = True
        self.overrides: set[str] = set()
        self.shown: list[tuple[OrderIntent, list[CheckResult]]] = []

    async def __call__(self, intent: OrderIntent, checks: list[CheckResult]) -> Confirmation:
        self.shown.append((intent, checks))
        return Confirmation(self.approve, frozenset(self.overrides))


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _profile(port: int, **changes: Any) -> Profile:
    base: dict[str, Any] = {"port": port, "client_id": 51, "watchlist": ["AAPL", "TSLA", "ES"],
                            "connect_timeout": 5}
    base.update(changes)
    return Profile(**base)


async def _setup(sim: SimServer, tmp_path: Path, mode: TradingMode = TradingMode.PAPER,
                 real_time: bool = False, fake: Any = None,
                 **profile: Any) -> tuple[OrderPipeline, Trader, FakeTime]:
    session = BrokerSession(_profile(sim.port, **profile), "test", mode)
    assert await session.start()
    sim.step(25)  # delayed quotes start moving too
    await _until(lambda: len(session.quotes()) == 3
                 and all(q.bid for q in session.quotes().values()))
    session.ib.client.MaxRequests = 0  # the pipeline's own throttle is what is under test
    trader, fake = Trader(), fake or FakeTime()
    journal = Journal(tmp_path / "journal.sqlite3", "test")
    if real_time:
        pipeline = OrderPipeline(session, journal, trader)
    else:
        pipeline = OrderPipeline(session, journal, trader, clock=fake.clock, sleep=fake.sleep)
    return pipeline, trader, fake


@pytest.fixture
async def world(sim: SimServer, tmp_path: Path) -> AsyncIterator[tuple[OrderPipeline, Trader]]:
    pipeline, trader, _ = await _setup(sim, tmp_path)
    yield pipeline, trader
    await pipeline.session.close()


def _inst(pipeline: OrderPipeline, symbol: str) -> Instrument:
    [item] = [w for w in pipeline.session.watchlist if w.text == symbol]
    assert item.instrument is not None
    return item.instrument


def _limit(pipeline: OrderPipeline, sim: SimServer, symbol: str = "AAPL", side: Side = Side.BUY,
           qty: float = 10, offset: float = -2.0, **changes: Any) -> OrderIntent:
    inst = _inst(pipeline, symbol)
    book = sim.market.book(inst.con_id)
    price = round((book.bid if side is Side.BUY else book.ask) + offset * side.sign, 4)
    spec = OrderSpec(inst, side, qty, OrderType.LMT, limit=price, **changes)
    return OrderIntent((spec,))


def _checks(result: Any) -> dict[str, str]:
    return {c.check: c.severity.value for c in result.checks}


async def test_a_clean_order_is_confirmed_sent_and_journaled(world: Any, sim: SimServer,
                                                             tmp_path: Path) -> None:
    pipeline, trader = world
    intent = _limit(pipeline, sim)
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.QUEUED and _checks(result) == {"all": "ok"}
    assert len(trader.shown) == 1  # paper with confirm_orders: the trader saw it
    ref = intent.order_ref(0)
    await _until(lambda: any(o.req.order_ref == ref for o in sim.orders.orders.values()))
    await _until(lambda: pipeline.trades[ref].orderStatus.status == "Submitted")
    kinds = [e.kind for e in read_events(tmp_path / "journal.sqlite3")]
    assert kinds[:5] == ["intent", "check", "confirm", "queued", "submitted"]
    assert "status" in kinds
    updates = pipeline.drain().orders
    assert updates[-1].status == "Submitted" and updates[-1].order_ref == ref


@pytest.mark.parametrize(("changes", "check"), [
    ({"qty": 600}, "size"),
    ({"qty": 450, "offset": -1.0}, "value"),
    ({"offset": -20.0}, "deviation"),
    ({"offset": -0.004}, "tick"),
])
async def test_breaches_need_an_override(world: Any, sim: SimServer, changes: dict[str, Any],
                                         check: str) -> None:
    pipeline, trader = world
    intent = _limit(pipeline, sim, **changes)
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.REJECTED and _checks(result)[check] == "breach"
    assert "needs an override" in result.message
    trader.overrides = {c.check for c in result.checks if c.severity.value == "breach"}
    result = await pipeline.submit(_limit(pipeline, sim, **changes))
    assert result.outcome is Outcome.QUEUED


async def test_off_tick_price_is_rounded_in_the_traders_favour(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    trader.overrides = {"tick"}
    intent = _limit(pipeline, sim, offset=-1.004)
    asked = intent.legs[0].limit
    assert asked is not None
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: any(o.req.order_ref == ref for o in sim.orders.orders.values()))
    [sent] = [o for o in sim.orders.orders.values() if o.req.order_ref == ref]
    assert sent.req.limit is not None and sent.req.limit <= asked
    assert round(sent.req.limit * 100) == sent.req.limit * 100


async def test_a_delayed_quote_cannot_be_the_reference(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    result = await pipeline.submit(_limit(pipeline, sim, "TSLA"))
    assert _checks(result)["quote"] == "breach" and "delayed" in str(result.checks)


async def test_the_trader_can_say_no(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    trader.approve = False
    result = await pipeline.submit(_limit(pipeline, sim))
    assert result.outcome is Outcome.CANCELLED
    await asyncio.sleep(0.1)
    assert not sim.orders.orders


async def test_read_only_and_scope_block_without_asking(sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, read_only=True,
                                       allowed_sec_types=[SecType.STK])
    try:
        result = await pipeline.submit(_limit(pipeline, sim))
        assert result.outcome is Outcome.REJECTED and _checks(result)["read-only"] == "block"
        es = _inst(pipeline, "ES")
        spec = OrderSpec(es, Side.BUY, 1, OrderType.MKT)
        result = await pipeline.submit(OrderIntent((spec,)))
        assert _checks(result)["scope"] == "block"
        assert trader.shown == [] and not sim.orders.orders
    finally:
        await pipeline.session.close()


async def test_position_limit_and_reducing_state(sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, limits=Limits(max_position=350))
    try:
        assert (await pipeline.submit(_limit(pipeline, sim, qty=100))).outcome is \
            Outcome.REJECTED  # 300 AAPL held: 400 would pass the limit
        pipeline._set_state(TradingState.REDUCING, "test")
        opening = await pipeline.submit(_limit(pipeline, sim, qty=10))
        assert _checks(opening)["state"] == "block"
        reducing = await pipeline.submit(_limit(pipeline, sim, side=Side.SELL, qty=100))
        assert reducing.outcome is Outcome.QUEUED
    finally:
        await pipeline.session.close()


async def test_daily_loss_limit_switches_to_reducing(tmp_path: Path) -> None:
    from ibterm.sim.scenario import AccountDef, PositionDef
    from tests.conftest import manual_scenario

    # Short MSFT on a day it is up 1.6%: a daily loss of about 6,800.
    account = AccountDef(id="DU1234567",
                         positions=[PositionDef(symbol="MSFT", quantity=-1000, avg_cost=420)])
    sim = SimServer(manual_scenario(accounts=[account]))
    await sim.start()
    pipeline, trader, _ = await _setup(sim, tmp_path, limits=Limits(daily_loss_limit=1000))
    try:
        await _until(lambda: (pipeline.session.daily_pnl() or 0) < -1000)
        result = await pipeline.submit(_limit(pipeline, sim, qty=10))
        assert pipeline.state is TradingState.REDUCING and _checks(result)["state"] == "block"
    finally:
        await pipeline.session.close()
        await sim.stop()


async def test_a_burst_of_1000_keeps_order_and_loses_nothing(tmp_path: Path) -> None:
    from tests.conftest import manual_scenario

    # The throttle runs on a fake clock here, so in real time the burst is far faster
    # than 50/s: the gateway's pacing check is off for this test.
    sim = SimServer(manual_scenario(pacing_limit=0))
    await sim.start()
    pipeline, trader, fake = await _setup(sim, tmp_path, confirm_orders=False,
                                          flood_intents=10_000, order_rate=40)
    try:
        started_fake, started = fake.now, time.monotonic()
        intents = [_limit(pipeline, sim, qty=1, offset=-2.0 - (i % 100) * 0.01)
                   for i in range(1000)]
        for intent in intents:
            assert (await pipeline.submit(intent)).outcome is Outcome.QUEUED
        await _until(lambda: len(sim.orders.orders) == 1000, timeout=20)
        arrived = sorted(sim.orders.orders.values(), key=lambda o: o.perm_id)
        assert [o.req.order_ref for o in arrived] == [i.order_ref(0) for i in intents]
        assert fake.now - started_fake >= 1000 / 40 - 1  # the throttle held 40/s …
        assert time.monotonic() - started < 15  # … on the fake clock, not the real one
        assert trader.shown == []  # paper, confirmations off, every check clean
    finally:
        await pipeline.session.close()
        await sim.stop()


async def test_flood_breaker_halts(sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, confirm_orders=False, flood_intents=5)
    try:
        outcomes = [(await pipeline.submit(_limit(pipeline, sim, qty=1))).outcome
                    for _ in range(7)]
        assert outcomes[:5] == [Outcome.QUEUED] * 5 and outcomes[5:] == [Outcome.REJECTED] * 2
        assert pipeline.state is TradingState.HALTED
    finally:
        await pipeline.session.close()


async def test_kill_switch_withdraws_the_queue_and_cancels_everything(
        sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, fake = await _setup(sim, tmp_path, confirm_orders=False,
                                          flood_intents=10_000, order_rate=10, real_time=True)
    try:
        for _ in range(20):
            await pipeline.submit(_limit(pipeline, sim, qty=1))
        await _until(lambda: len(sim.orders.orders) >= 5)
        pipeline.kill()
        await _until(lambda: all(o.done for o in sim.orders.orders.values()))
        sent = len(sim.orders.orders)
        assert sent < 20 and pipeline.state is TradingState.HALTED and not pipeline.queue
        pipeline.resume()
        await asyncio.sleep(0.3)
        assert len(sim.orders.orders) == sent  # withdrawn orders never fire later
        update = pipeline.drain()
        assert sum(1 for o in update.orders if o.status == "NotSent") == 20 - sent
        kinds = [e.kind for e in read_events(pipeline.journal.path)]
        assert kinds.count("withdrawn") == 20 - sent
    finally:
        await pipeline.session.close()


async def test_no_orders_while_disconnected(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    await sim.stop()
    await _until(lambda: not pipeline.session.connected)
    trader.overrides = {"quote"}  # no quotes either, once disconnected
    result = await pipeline.submit(_limit(pipeline, sim))
    assert result.outcome is Outcome.REJECTED and "not connected" in result.message


async def test_flatten_closes_every_position_even_when_halted(world: Any,
                                                              sim: SimServer) -> None:
    pipeline, trader = world
    pipeline.kill()
    intent = pipeline.flatten_intent()
    assert intent is not None and intent.kind is IntentKind.FLATTEN
    sides = {leg.instrument.symbol: (leg.side, leg.quantity) for leg in intent.legs}
    assert sides == {"AAPL": (Side.SELL, 300), "MSFT": (Side.SELL, 100),
                     "SPY": (Side.BUY, 50), "ES": (Side.SELL, 1)}
    trader.overrides = {"quote"}  # MSFT and SPY have no subscribed quote here
    result = await pipeline.submit(intent)
    assert result.outcome is Outcome.QUEUED, result.message
    await _until(lambda: all(p.quantity == 0 for p in sim.accounts["DU1234567"].positions.values()),
                 timeout=8)


async def test_bracket_and_oca_reach_the_gateway_linked(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    inst = _inst(pipeline, "AAPL")
    book = sim.market.book(inst.con_id)
    entry = OrderSpec(inst, Side.BUY, 10, OrderType.LMT, limit=round(book.bid - 2, 2))
    take = OrderSpec(inst, Side.SELL, 10, OrderType.LMT, limit=round(book.ask + 3, 2))
    stop = OrderSpec(inst, Side.SELL, 10, OrderType.STP, stop=round(book.bid - 6, 2))
    bracket = OrderIntent((entry, take, stop), kind=IntentKind.BRACKET, source="bracket")
    assert (await pipeline.submit(bracket)).outcome is Outcome.QUEUED
    await _until(lambda: len(sim.orders.orders) == 3
                 and not any(o.held for o in sim.orders.orders.values()))
    orders = sorted(sim.orders.orders.values(), key=lambda o: o.perm_id)
    parent = orders[0].req.order_id
    assert [o.req.parent_id for o in orders] == [0, parent, parent]
    assert [o.status for o in orders] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    a = OrderSpec(inst, Side.BUY, 5, OrderType.LMT, limit=round(book.bid - 1, 2))
    b = OrderSpec(inst, Side.BUY, 5, OrderType.LMT, limit=round(book.bid - 1.5, 2))
    oca = OrderIntent((a, b), kind=IntentKind.OCA, oca_type=2)
    assert (await pipeline.submit(oca)).outcome is Outcome.QUEUED
    await _until(lambda: len(sim.orders.orders) == 5)
    groups = {o.req.oca_group for o in sim.orders.orders.values() if o.req.oca_group}
    assert groups == {f"ibterm-{oca.id}"}


def test_the_journal_is_append_only(tmp_path: Path) -> None:
    import sqlite3

    journal = Journal(tmp_path / "j.sqlite3", "p")
    journal.record("intent", intent_id="x", symbol="AAPL", note="hello")
    db = sqlite3.connect(tmp_path / "j.sqlite3")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("DELETE FROM events")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("UPDATE events SET kind = 'x'")
    [event] = read_events(tmp_path / "j.sqlite3", symbol="aapl")
    assert event.data == {"note": "hello"} and event.profile == "p"


async def test_reconciliation_reports_what_the_journal_does_not_know(
        world: Any, sim: SimServer) -> None:
    from ib_async import IB, Contract, LimitOrder, MarketOrder

    from ibterm.broker.reconcile import Difference

    pipeline, trader = world
    # The journal believes in an order the gateway never saw (its acknowledgement lost).
    pipeline.journal.record("submitted", intent_id="lost", order_ref="ibterm-lost-0",
                            symbol="AAPL")
    # Another client works an order, and fills one carrying an ibterm orderRef.
    other = IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=99, timeout=5)
    try:
        aapl = Contract(conId=265598, exchange="SMART")
        bid = sim.market.book(265598).bid
        resting = other.placeOrder(aapl, LimitOrder("BUY", 3, round(bid - 4, 2),
                                                    orderRef="from-tws"))
        filled = other.placeOrder(aapl, MarketOrder("SELL", 2, orderRef="ibterm-elsewhere-0"))
        await _until(lambda: resting.orderStatus.status == "Submitted" and filled.isDone())
        found = await pipeline.reconcile()
    finally:
        other.disconnect()
    kinds = {(d.kind, d.order_ref) for d in found}
    assert (Difference.UNKNOWN_ORDER, "from-tws") in kinds
    assert (Difference.GONE, "ibterm-lost-0") in kinds
    assert (Difference.MISSED_FILL, "ibterm-elsewhere-0") in kinds
    assert not any(d.order_ref == "ibterm-lost-0" and "sent again" not in d.detail
                   for d in found)
    recorded = [e for e in read_events(pipeline.journal.path) if e.kind == "reconcile"]
    assert len(recorded) == len(found)
    # What it learned is journaled: the next reconciliation reports neither again.
    again = {(d.kind, d.order_ref) for d in await pipeline.reconcile()}
    assert (Difference.GONE, "ibterm-lost-0") not in again
    assert (Difference.MISSED_FILL, "ibterm-elsewhere-0") not in again
    states = pipeline.journal.order_states()
    assert states["ibterm-lost-0"][0] == "NotReceived"
    fills = [e for e in read_events(pipeline.journal.path) if e.kind == "fill"]
    assert [(e.order_ref, e.data["shares"], e.data["source"]) for e in fills] == [
        ("ibterm-elsewhere-0", 2.0, "reconciliation")]


async def test_orders_from_a_previous_run_are_tracked_again(sim: SimServer,
                                                            tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path)
    intent = _limit(pipeline, sim)
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: ref in pipeline.trades
                 and pipeline.trades[ref].orderStatus.status == "Submitted")
    await pipeline.session.close()
    # A new app on the same journal and clientId: its order is still working at the gateway.
    again, _, _ = await _setup(sim, tmp_path)
    try:
        # (The app builds its pipeline before connecting, so this runs on connect there.)
        assert not await again.reconcile()  # nothing unexplained
        assert ref in again.trades
        assert again.cancel(ref)
        await _until(lambda: again.trades[ref].orderStatus.status == "Cancelled")
    finally:
        await again.session.close()


async def test_modify_goes_through_the_checks_and_keeps_the_order_id(world: Any,
                                                                     sim: SimServer) -> None:
    from dataclasses import replace

    pipeline, trader = world
    intent = _limit(pipeline, sim, offset=-3.0)
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: ref in pipeline.trades
                 and pipeline.trades[ref].orderStatus.status == "Submitted")
    order_id = pipeline.trades[ref].order.orderId
    too_big = replace(intent.legs[0], quantity=900)
    assert (await pipeline.modify(ref, too_big)).outcome is Outcome.REJECTED  # size breach
    new_price = round(intent.legs[0].limit - 0.5, 2)  # type: ignore[operator]
    result = await pipeline.modify(ref, replace(intent.legs[0], limit=new_price, quantity=20))
    assert result.outcome is Outcome.QUEUED
    [order] = [o for o in sim.orders.orders.values() if o.req.order_ref == ref]
    await _until(lambda: order.req.limit == new_price and order.quantity == 20)
    assert order.req.order_id == order_id and len(sim.orders.orders) == 1
    flipped = replace(intent.legs[0], side=Side.SELL)
    assert "keeps the instrument and side" in (await pipeline.modify(ref, flipped)).message


def test_journal_synchronous_follows_the_config(tmp_path: Path) -> None:
    assert Journal(tmp_path / "a.sqlite3", "p")._db.execute(
        "PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert Journal(tmp_path / "b.sqlite3", "p", "FULL")._db.execute(
        "PRAGMA synchronous").fetchone()[0] == 2


async def test_a_pacing_rejection_is_sent_again_once(tmp_path: Path) -> None:
    from tests.conftest import manual_scenario

    sim = SimServer(manual_scenario(pacing_limit=40))
    await sim.start()
    pipeline, trader, _ = await _setup(sim, tmp_path, confirm_orders=False, order_rate=45,
                                       flood_intents=10_000, real_time=True)
    try:
        intents = [_limit(pipeline, sim, qty=1, offset=-2.0 - i * 0.01) for i in range(45)]
        await asyncio.sleep(1.1)  # the gateway's pacing window forgets the session's start
        for intent in intents:
            await pipeline.submit(intent)
        refs = [i.order_ref(0) for i in intents]
        await _until(lambda: len({o.req.order_ref for o in sim.orders.orders.values()})
                     == 45, timeout=10)
        at_gateway = [o.req.order_ref for o in sim.orders.orders.values()]
        assert sorted(at_gateway) == sorted(refs)  # every one, and each exactly once
        requeued = [e for e in read_events(pipeline.journal.path) if e.kind == "requeued"]
        assert requeued and len(requeued) == 45 - 40
    finally:
        await pipeline.session.close()
        await sim.stop()


async def test_a_bad_tick_cannot_be_the_reference(world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    sim.bad_tick(265598, factor=3)
    await _until(lambda: (q := pipeline.session.quote(265598)) is not None and q.flag == "bad")
    result = await pipeline.submit(_limit(pipeline, sim))
    assert _checks(result)["quote"] == "breach" and "bad tick" in str(result.checks)


async def test_a_drop_is_survived_and_what_changed_while_away_is_reported_once(
        world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    keep, gone = _limit(pipeline, sim), _limit(pipeline, sim, offset=-3.0)
    for intent in (keep, gone):
        await pipeline.submit(intent)
    refs = [keep.order_ref(0), gone.order_ref(0)]
    await _until(lambda: all(r in pipeline.trades
                             and pipeline.trades[r].orderStatus.status == "Submitted"
                             for r in refs))
    pipeline.drain()
    sim.drop(51)
    await _until(lambda: not pipeline.session.connected, 3)
    # While away: a cancel is refused, not queued; the server cancels one order.
    assert not pipeline.cancel(refs[0])
    assert any("cancel was not sent" in n.message for n in pipeline.drain().notices)
    [victim] = [o for o in sim.orders.orders.values() if o.req.order_ref == refs[1]]
    sim.publish(sim.orders.cancel(51, victim.req.order_id))
    # … and another client (TWS, say) buys 2 AAPL in the same account.
    from ib_async import IB, Contract, MarketOrder
    other = IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=98, timeout=5)
    try:
        bought = other.placeOrder(Contract(conId=265598, exchange="SMART"),
                                  MarketOrder("BUY", 2))
        await _until(bought.isDone)
    finally:
        other.disconnect()
    await _until(lambda: pipeline.session.connected, 10)  # backoff: about a second
    await _until(lambda: pipeline._reconcile_task is not None
                 and pipeline._reconcile_task.done())
    found = pipeline._reconcile_task.result()
    assert [d.detail for d in found if d.symbol == "AAPL" and d.kind.value == "position"] == [
        "DU1234567: 300 -> 302 while the app was away"]
    update = pipeline.drain()
    changed = {u.order_ref: u for u in update.orders}
    assert changed[refs[1]].status == "Cancelled" and "while the app was away" in \
        changed[refs[1]].message
    assert pipeline.trades[refs[0]].orderStatus.status == "Submitted"  # re-attached
    assert not [d for d in await pipeline.reconcile() if d.order_ref in refs]  # once only
    assert pipeline.cancel(refs[0])
    await _until(lambda: pipeline.trades[refs[0]].orderStatus.status == "Cancelled")


async def test_finished_orders_are_forgotten_after_a_while(sim: SimServer,
                                                          tmp_path: Path) -> None:
    from ibterm.broker.tracking import RETAIN_FINISHED

    pipeline, trader, fake = await _setup(sim, tmp_path)
    try:
        working, done = _limit(pipeline, sim), _limit(pipeline, sim, offset=-3.0)
        for intent in (working, done):
            await pipeline.submit(intent)
        refs = [working.order_ref(0), done.order_ref(0)]
        await _until(lambda: all(r in pipeline.trades and
                                 pipeline.trades[r].orderStatus.status == "Submitted"
                                 for r in refs))
        assert pipeline.cancel(refs[1])
        await _until(lambda: pipeline.trades[refs[1]].isDone())
        pipeline.drain()
        assert pipeline.tracked == 2  # a finished order keeps its late news for a while
        fake.now += RETAIN_FINISHED + 1
        pipeline.drain()
        assert pipeline.tracked == 1 and refs[1] not in pipeline.trades
        assert not pipeline.cancel(refs[1])
        assert pipeline.cancel(refs[0])  # the working one is still tracked
    finally:
        await pipeline.session.close()


async def test_an_order_sent_during_a_reconciliation_is_not_judged(world: Any,
                                                                   sim: SimServer) -> None:
    pipeline, trader = world
    sim.delay(0.3)  # the gateway's answers are slow: the order goes out meanwhile
    task = asyncio.ensure_future(pipeline.reconcile())
    await asyncio.sleep(0.1)
    intent = _limit(pipeline, sim)
    await pipeline.submit(intent)
    found = await task
    sim.delay(0)
    ref = intent.order_ref(0)
    assert not [d for d in found if d.order_ref == ref]
    await _until(lambda: pipeline.trades[ref].orderStatus.status == "Submitted")
    assert pipeline.journal.order_states()[ref][0] == "Submitted"
    assert pipeline.cancel(ref)


async def test_an_order_filled_while_away_is_settled_with_its_fill(world: Any,
                                                                   sim: SimServer) -> None:
    pipeline, trader = world
    intent = _limit(pipeline, sim, qty=5)
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: ref in pipeline.trades
                 and pipeline.trades[ref].orderStatus.status == "Submitted")
    sim.drop(51)
    await _until(lambda: not pipeline.session.connected, 3)
    # While away the order fills (as if the market had come down to its limit).
    import dataclasses

    [order] = [o for o in sim.orders.orders.values() if o.req.order_ref == ref]
    order.req = dataclasses.replace(order.req, limit=round(sim.market.book(265598).ask, 2))
    sim.publish(sim.orders.on_step())
    assert order.status == "Filled"
    await _until(lambda: pipeline.session.connected, 10)
    await _until(lambda: pipeline._reconcile_task is not None
                 and pipeline._reconcile_task.done())
    settled = [u for u in pipeline.drain().orders if u.order_ref == ref][-1]
    assert (settled.status, settled.filled) == ("Filled", 5)
    assert settled.avg_price == pytest.approx(order.avg_price)


async def test_the_kill_switch_without_a_link_says_so_and_cancels_on_reconnect(
        world: Any, sim: SimServer) -> None:
    pipeline, trader = world
    intent = _limit(pipeline, sim)
    await pipeline.submit(intent)
    await _until(lambda: any(not o.done for o in sim.orders.orders.values()))
    sim.drop(51)
    await _until(lambda: not pipeline.session.connected, 3)
    pipeline.kill()
    assert any("NOT cancelled" in n.message for n in pipeline.drain().notices)
    assert any(not o.done for o in sim.orders.orders.values())
    await _until(lambda: pipeline.session.connected, 10)
    await _until(lambda: all(o.done for o in sim.orders.orders.values()))
    assert pipeline.state is TradingState.HALTED
    kinds = [e.kind for e in read_events(pipeline.journal.path)]
    assert kinds.count("cancel-failed") == 1 and "cancel" in kinds


def test_open_orders_in_the_journal_agree_with_the_full_replay(tmp_path: Path) -> None:
    from ibterm.broker.reconcile import DONE

    journal = Journal(tmp_path / "j.sqlite3", "p")
    other = Journal(tmp_path / "j.sqlite3", "q")  # another profile's orders are not ours
    journal.record("submitted", order_ref="a")
    journal.record("submitted", order_ref="b")
    journal.record("status", order_ref="b", status="PendingSubmit")
    journal.record("submitted", order_ref="c")
    journal.record("status", order_ref="c", status="Submitted")
    journal.record("withdrawn", order_ref="c", modify=True)  # a change withdrawn: works
    journal.record("submitted", order_ref="d")
    journal.record("status", order_ref="d", status="Filled")
    journal.record("queued", order_ref="e")
    journal.record("withdrawn", order_ref="e", modify=False)
    journal.record("submitted", order_ref="f")
    journal.record("status", order_ref="f", status="NotReceived")
    other.record("submitted", order_ref="g")
    journal.record("fill", order_ref="d", exec_id="x1")
    everything = journal.order_states()
    expected = {r: s for r, s in everything.items() if s[0] not in DONE}
    assert journal.open_orders(DONE) == expected == {
        "a": ("Submitted-unacknowledged", ""), "b": ("Submitted-unacknowledged", ""),
        "c": ("Submitted", "")}
    assert journal.knows("d") and not journal.knows("g") and other.knows("g")
    assert journal.known_execs(["x1", "x2"]) == {"x1"} and journal.known_execs([]) == set()


async def test_cancel_all_cancels_everything_and_keeps_trading(world: Any,
                                                               sim: SimServer) -> None:
    from ib_async import IB, Contract, LimitOrder

    pipeline, trader = world
    other = IB()  # TWS, say: IB's global cancel reaches its orders too
    await other.connectAsync("127.0.0.1", sim.port, clientId=97, timeout=5)
    try:
        bid = sim.market.book(265598).bid
        theirs = other.placeOrder(Contract(conId=265598, exchange="SMART"),
                                  LimitOrder("BUY", 3, round(bid - 5, 2), orderRef="from-tws"))
        mine = [_limit(pipeline, sim, offset=-2.0 - i * 0.1) for i in range(2)]
        for intent in mine:
            await pipeline.submit(intent)
        await _until(lambda: theirs.orderStatus.status == "Submitted"
                     and sum(not o.done for o in sim.orders.orders.values()) == 3)
        pipeline.drain()
        assert pipeline.cancel_all()
        await _until(lambda: all(o.status == "Cancelled" for o in sim.orders.orders.values()))
        update = pipeline.drain()
        assert pipeline.state is TradingState.ACTIVE and update.state is None
        assert any("Global cancel sent" in n.message and "stays ACTIVE" in n.message
                   for n in update.notices)
        cancels = [e for e in read_events(pipeline.journal.path) if e.kind == "cancel"]
        assert [e.data for e in cancels] == [{"scope": "global", "reason": "cancel all"}]
        after = _limit(pipeline, sim)
        assert (await pipeline.submit(after)).outcome is Outcome.QUEUED  # still trading
        await _until(lambda: _working(sim, after.order_ref(0)))
    finally:
        other.disconnect()


def _working(sim: SimServer, ref: str) -> bool:
    return any(o.req.order_ref == ref and not o.done for o in sim.orders.orders.values())


async def test_cancel_all_is_refused_without_a_link_and_on_read_only(
        sim: SimServer, tmp_path: Path) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path)
    intent = _limit(pipeline, sim)
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: _working(sim, ref))
    sim.drop(51)
    await _until(lambda: not pipeline.session.connected, 3)
    pipeline.drain()
    assert not pipeline.cancel_all()
    assert any("not connected" in n.message and "nothing was cancelled" in n.message
               for n in pipeline.drain().notices)
    await pipeline.session.close()
    read_only, _, _ = await _setup(sim, tmp_path, read_only=True)
    try:
        read_only.drain()
        assert not read_only.cancel_all()
        assert any("read-only" in n.message for n in read_only.drain().notices)
        await asyncio.sleep(0.3)
        assert _working(sim, ref)  # nothing was sent, by either
    finally:
        await read_only.session.close()


class SteppedTime:
    """A clock that moves only when the test says: each sleep waits for advance()."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        await wake

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [(t, f) for t, f in self._sleepers if t <= self.now]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self.now]
        for _, wake in due:
            wake.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0.01)


@pytest.fixture
async def big_es() -> AsyncIterator[SimServer]:
    """Long 500 ES: more than the bid ever shows, so a flatten leg keeps working."""
    from ibterm.sim.scenario import AccountDef, PositionDef
    from tests.conftest import manual_scenario

    account = AccountDef(id="DU1234567",
                         positions=[PositionDef(symbol="ES", quantity=500, avg_cost=6000)])
    server = SimServer(manual_scenario(accounts=[account]), seed=0)
    await server.start()
    yield server
    await server.stop()


async def _moved(pipeline: OrderPipeline, sim: SimServer, con_id: int, steps: int = 3) -> float:
    """Step the market until the ES bid moves; the app's quote follows. The new bid."""
    before = sim.market.book(con_id).bid
    while sim.market.book(con_id).bid == before:
        sim.step(steps)
    bid = sim.market.book(con_id).bid
    await _until(lambda: (q := pipeline.session.quote(con_id)) is not None and q.bid == bid)
    return bid


async def test_flatten_is_priced_when_sent_and_repriced_while_it_works(
        big_es: SimServer, tmp_path: Path) -> None:
    from dataclasses import replace

    sim, clock = big_es, SteppedTime()
    pipeline, trader, _ = await _setup(
        sim, tmp_path, fake=clock, flatten={"through_ticks": 2, "reprice_after": 5,
                                            "max_reprices": 2})
    try:
        es = _inst(pipeline, "ES")
        intent = pipeline.flatten_intent()
        assert intent is not None
        [leg] = [leg for leg in intent.legs if leg.instrument.con_id == es.con_id]
        shown = leg.limit
        # The trader reads the dialog; the market moves meanwhile.
        bid = await _moved(pipeline, sim, es.con_id)
        assert (await pipeline.submit(replace(intent, legs=(leg,)))).outcome is Outcome.QUEUED
        ref = intent.order_ref(0)
        await _until(lambda: any(o.req.order_ref == ref for o in sim.orders.orders.values()))
        [order] = [o for o in sim.orders.orders.values() if o.req.order_ref == ref]
        assert order.req.limit == bid - 2 * 0.25 != shown  # from the touch as it was sent
        order_id = order.req.order_id
        await _until(lambda: order.filled > 0)
        assert not order.done  # 500 is more than the bid shows
        for round_ in (1, 2):
            bid = await _moved(pipeline, sim, es.con_id)
            assert not order.done
            await clock.advance(5)
            await _until(lambda bid=bid: order.req.limit == bid - 2 * 0.25)
            assert order.req.order_id == order_id and len(sim.orders.orders) == 1
            reprices = [e for e in read_events(pipeline.journal.path) if e.kind == "reprice"]
            assert len(reprices) == round_ and reprices[-1].data["priced_from"] == "bid"
        pipeline.drain()
        await clock.advance(5)  # no third re-pricing: reported instead
        await _until(lambda: any(e.kind == "flatten-working"
                                 for e in read_events(pipeline.journal.path)))
        assert order.req.limit == bid - 2 * 0.25
        remaining = pipeline.trades[ref].orderStatus.remaining
        expected = (f"{es.display} flatten SELL {remaining:g} still working after 2 "
                    f"re-pricings at {bid - 0.5:,.2f}")
        notices = [n.message for n in pipeline.drain().notices]
        assert any(n.startswith(expected) for n in notices), (expected, notices)
        [row] = [e for e in read_events(pipeline.journal.path) if e.kind == "flatten-working"]
        assert row.data["message"] == expected
    finally:
        await pipeline.session.close()


async def test_flatten_without_a_live_quote_is_priced_from_the_mark_and_says_so(
        world: Any, sim: SimServer) -> None:
    from ibterm.domain.ticks import round_in_favour

    pipeline, trader = world
    intent = pipeline.flatten_intent()
    assert intent is not None
    [msft] = [leg for leg in intent.legs if leg.instrument.symbol == "MSFT"]
    [pos] = [p for p in pipeline.session.positions() if p.instrument.symbol == "MSFT"]
    assert pos.market_price is not None
    assert msft.limit == round_in_favour(pos.market_price - 10 * 0.01, 0.01, Side.BUY)
    trader.overrides = {"quote"}
    from dataclasses import replace

    await pipeline.submit(replace(intent, legs=(msft,)))
    await _until(lambda: any("flatten priced from the position's market price (no live "
                             "quote)" in n.message for n in pipeline.drain().notices))
