"""A read-only profile sends nothing that changes the account: not an order, not a
cancel, not the kill switch's global cancel. Against the simulator, with another client's
order working in the same account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ib_async import IB, Contract, LimitOrder, Trade

from ibterm.broker.approval import Outcome
from ibterm.domain.orders import TradingState
from ibterm.sim.server import SimServer
from tests.broker.test_pipeline import _limit, _setup, _until


@pytest.fixture
async def other(sim: SimServer) -> AsyncIterator[tuple[IB, Trade]]:
    """TWS, say: another client working a buy order in the same account."""
    client = IB()
    await client.connectAsync("127.0.0.1", sim.port, clientId=97, timeout=5)
    bid = sim.market.book(265598).bid
    trade = client.placeOrder(Contract(conId=265598, exchange="SMART"),
                              LimitOrder("BUY", 3, round(bid - 5, 2), orderRef="from-tws"))
    await _until(lambda: trade.orderStatus.status == "Submitted")
    yield client, trade
    client.disconnect()


def _working_at_gateway(sim: SimServer, ref: str) -> bool:
    return any(o.req.order_ref == ref and not o.done for o in sim.orders.orders.values())


async def test_the_read_only_kill_switch_halts_this_app_and_cancels_nothing(
        sim: SimServer, tmp_path: Path, other: tuple[IB, Trade]) -> None:
    pipeline, trader, _ = await _setup(sim, tmp_path, read_only=True)
    try:
        pipeline.kill()
        await asyncio.sleep(0.3)  # a global cancel, had one gone out, would be done by now
        assert _working_at_gateway(sim, "from-tws")
        assert other[1].orderStatus.status == "Submitted"
        assert pipeline.state is TradingState.HALTED
        notices = [n.message for n in pipeline.drain().notices]
        assert any("no cancel was sent because the profile is read-only" in n
                   for n in notices), notices
        # Not on a reconnect either: nothing is left pending.
        sim.drop(51)
        await _until(lambda: not pipeline.session.connected, 3)
        await _until(lambda: pipeline.session.connected, 10)
        await asyncio.sleep(0.3)
        assert _working_at_gateway(sim, "from-tws")
    finally:
        await pipeline.session.close()


async def test_read_only_refuses_a_cancel_and_flatten(sim: SimServer, tmp_path: Path) -> None:
    # An order of this clientId from an earlier, trading run of the app...
    trading, trader, _ = await _setup(sim, tmp_path)
    intent = _limit(trading, sim)
    assert (await trading.submit(intent)).outcome is Outcome.QUEUED
    ref = intent.order_ref(0)
    await _until(lambda: _working_at_gateway(sim, ref))
    await trading.session.close()
    # ... is tracked again by a read-only run, which will not cancel it.
    pipeline, trader, _ = await _setup(sim, tmp_path, read_only=True)
    try:
        await pipeline.reconcile()
        assert ref in pipeline.trades
        pipeline.drain()
        assert not pipeline.cancel(ref)
        assert any("not cancelled: this profile is read-only" in n.message
                   for n in pipeline.drain().notices)
        flatten = pipeline.flatten_intent()
        assert flatten is not None
        trader.overrides = {"quote"}
        result = await pipeline.submit(flatten)
        assert result.outcome is Outcome.REJECTED
        assert {c.check for c in result.checks if c.severity.value == "block"} >= {"read-only"}
        await asyncio.sleep(0.3)
        assert _working_at_gateway(sim, ref)
        assert len(sim.orders.orders) == 1  # nothing else ever reached the gateway
    finally:
        await pipeline.session.close()
