"""Fault injection through the simulator's Python API, seen by the real ib_async client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ib_async import IB, Contract, LimitOrder, MarketOrder

from ibterm.sim.server import SimServer

AAPL = Contract(conId=265598, exchange="SMART")


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _errors(ib: IB) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: seen.append((req_id, code))
    return seen


async def test_drop_one_client_and_restart_keeps_orders(sim: SimServer, ib: IB) -> None:
    other = IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=12, timeout=5)
    lost: list[bool] = []
    other.disconnectedEvent += lambda: lost.append(True)
    assert sim.drop(12) == 1
    await _until(lambda: bool(lost))
    assert ib.isConnected()
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, round(sim.market.book(265598).bid - 5, 2)))
    await _until(lambda: trade.orderStatus.status == "Submitted")
    sim.restart()
    await _until(lambda: not ib.isConnected())
    again = IB()
    await again.connectAsync("127.0.0.1", sim.port, clientId=11, timeout=5)
    try:
        working = await asyncio.wait_for(again.reqAllOpenOrdersAsync(), 3)
        assert [t.order.orderId for t in working] == [trade.order.orderId]
    finally:
        again.disconnect()


async def test_connectivity_codes(sim: SimServer, ib: IB) -> None:
    errors = _errors(ib)
    for code in (1100, 1101, 1102):
        sim.connectivity(code)
    await _until(lambda: [c for _, c in errors] == [1100, 1101, 1102])


async def test_stall_then_everything_arrives_in_order(sim: SimServer, ib: IB) -> None:
    sim.stall(0.5)
    started = time.monotonic()
    details = await asyncio.wait_for(ib.reqContractDetailsAsync(AAPL), 3)
    assert len(details) == 1 and time.monotonic() - started >= 0.45


async def test_delay_every_reply(sim: SimServer, ib: IB) -> None:
    sim.delay(0.3)
    started = time.monotonic()
    await asyncio.wait_for(ib.reqContractDetailsAsync(AAPL), 3)
    assert time.monotonic() - started >= 0.28
    sim.delay(0)
    started = time.monotonic()
    await asyncio.wait_for(ib.reqContractDetailsAsync(AAPL), 3)
    assert time.monotonic() - started < 0.25


async def test_bad_and_crossed_ticks(sim: SimServer, ib: IB) -> None:
    ticker = ib.reqMktData(AAPL)
    await _until(lambda: ticker.last > 0)
    real = ticker.last
    sim.bad_tick(265598, factor=10)
    await _until(lambda: ticker.last > real * 5)
    sim.bad_tick(265598, crossed=True)
    await _until(lambda: ticker.bid > ticker.ask)
    sim.step()
    await _until(lambda: ticker.bid < ticker.ask and ticker.last < real * 2)


async def test_reject_the_next_order(sim: SimServer, ib: IB) -> None:
    errors = _errors(ib)
    sim.reject_next_order(202, "Order Canceled - reason:simulated")
    first = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await _until(lambda: first.orderStatus.status == "Cancelled")
    assert (first.order.orderId, 202) in errors and not sim.orders.orders
    second = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await _until(lambda: second.orderStatus.status == "Filled")


async def test_pacing_violation_rejects_the_excess(sim: SimServer, ib: IB) -> None:
    errors = _errors(ib)
    ib.client.MaxRequests = 0  # the client's own throttle would prevent the burst
    price = round(sim.market.book(265598).bid - 5, 2)
    trades = [ib.placeOrder(AAPL, LimitOrder("BUY", 1, price)) for _ in range(60)]
    await _until(lambda: all(t.orderStatus.status in ("Submitted", "Cancelled")
                             for t in trades))
    refused = [t for t in trades if t.orderStatus.status == "Cancelled"]
    assert refused and all((t.order.orderId, 100) in errors for t in refused)
    assert len(sim.orders.orders) == 60 - len(refused) <= 50


async def test_stall_zero_ends_the_stall_at_once(sim: SimServer, ib: IB) -> None:
    sim.stall(30)
    started = time.monotonic()
    request = asyncio.ensure_future(ib.reqContractDetailsAsync(AAPL))
    await asyncio.sleep(0.2)
    assert not request.done()
    sim.stall(0)
    details = await asyncio.wait_for(request, 3)
    assert len(details) == 1 and time.monotonic() - started < 3


async def test_a_rejection_waits_for_a_new_order(sim: SimServer, ib: IB) -> None:
    # A modification or a what-if in between does not use up the rejection.
    price = round(sim.market.book(265598).bid - 5, 2)
    working = ib.placeOrder(AAPL, LimitOrder("BUY", 1, price))
    await _until(lambda: working.orderStatus.status == "Submitted")
    sim.reject_next_order(201, "Order rejected - reason:simulated")
    working.order.lmtPrice = round(price - 1, 2)
    ib.placeOrder(AAPL, working.order)
    await _until(lambda: sim.orders.orders[(11, working.order.orderId)].req.limit == price - 1)
    state = await asyncio.wait_for(ib.whatIfOrderAsync(AAPL, MarketOrder("BUY", 1)), 3)
    assert state.initMarginChange
    fresh = ib.placeOrder(AAPL, LimitOrder("BUY", 1, price))
    await _until(lambda: fresh.orderStatus.status == "Cancelled")
    assert sim.next_order_rejection is None
