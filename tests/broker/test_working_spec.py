"""A working order as the gateway holds it (the pipeline's working_spec), and a modify
that starts from it: a GTC order stays GTC, outside RTH stays, the account stays; for
the app's own orders, those adopted after a restart, and those placed elsewhere."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from ib_async import IB, Contract, LimitOrder, Order

from ibterm.broker.approval import Outcome
from ibterm.broker.working import NotModifiable, spec_at_broker
from ibterm.domain.orders import OrderType, TimeInForce, TradingState
from ibterm.sim.server import SimServer
from tests.broker.test_pipeline import _limit, _setup, _until


def test_what_the_domain_cannot_hold_is_refused_not_changed() -> None:
    stock = Contract(conId=8314, symbol="IBM", secType="STK", exchange="SMART", currency="USD")
    with pytest.raises(NotModifiable, match="GTD"):
        spec_at_broker(stock, LimitOrder("BUY", 5, 100.0, tif="GTD"))
    trail = Order(action="SELL", totalQuantity=5, orderType="TRAIL", trailingPercent=1.5,
                  trailStopPrice=95.0, tif="", account="DU1")
    spec = spec_at_broker(stock, trail)
    assert (spec.tif, spec.trail_percent, spec.trail_amount, spec.stop, spec.account) == (
        TimeInForce.DAY, 1.5, None, 95.0, "DU1")  # IB's empty TIF is DAY


async def test_a_modify_from_the_working_spec_changes_only_the_price(
        sim: SimServer, ib: IB, tmp_path: Path) -> None:
    pipeline, _, _ = await _setup(sim, tmp_path, real_time=True)
    account = pipeline.session.account
    intent = _limit(pipeline, sim, offset=-3.0, tif=TimeInForce.GTC, outside_rth=True,
                    account=account)
    await pipeline.submit(intent)
    ref = intent.order_ref(0)
    await _until(lambda: ref in pipeline.trades
                 and pipeline.trades[ref].orderStatus.status == "Submitted")
    try:
        assert pipeline.working_spec(ref) == intent.legs[0]  # every field as it was sent
        lower = round(intent.legs[0].limit - 0.5, 2)  # type: ignore[operator]
        result = await pipeline.modify(ref, replace(pipeline.working_spec(ref), limit=lower))
        assert result.outcome is Outcome.QUEUED, result.message
        [order] = sim.orders.orders.values()
        await _until(lambda: order.req.limit == lower)
        # Read back by another ib_async client: still GTC, outside RTH, the same account.
        [seen] = [t for t in await ib.reqAllOpenOrdersAsync() if t.order.orderRef == ref]
        assert (seen.order.tif, seen.order.outsideRth, seen.order.account) == (
            "GTC", True, account)
        await pipeline.session.close()
        # A new run adopts it from the gateway: its working spec is still GTC.
        again, _, _ = await _setup(sim, tmp_path, real_time=True)
        try:
            await again.reconcile()
            adopted = again.working_spec(ref)
            assert (adopted.tif, adopted.outside_rth, adopted.limit) == (
                TimeInForce.GTC, True, lower)
            # One placed elsewhere (another client): seen, but modified there.
            other = LimitOrder("BUY", 3, round(lower - 1, 2), tif="GTC", orderRef="tws-7")
            ib.placeOrder(Contract(conId=intent.legs[0].instrument.con_id, exchange="SMART"),
                          other)
            await _until(lambda: len(sim.orders.orders) == 2)
            await again.reconcile()
            elsewhere = again.working_spec("tws-7")
            assert (elsewhere.tif, elsewhere.quantity, elsewhere.order_type) == (
                TimeInForce.GTC, 3, OrderType.LMT)
            refused = await again.modify("tws-7", replace(elsewhere, limit=lower))
            assert "placed elsewhere" in refused.message
            with pytest.raises(NotModifiable, match="not working"):
                again.working_spec("ibterm-nothing-0")
        finally:
            await again.session.close()
    finally:
        if pipeline.session.connected:
            await pipeline.session.close()



async def test_a_modification_withdrawn_unsent_leaves_the_order_as_it_works(
        sim: SimServer, tmp_path: Path) -> None:
    pipeline, _, _ = await _setup(sim, tmp_path, real_time=True)
    try:
        intent = _limit(pipeline, sim, offset=-3.0, tif=TimeInForce.GTC)
        await pipeline.submit(intent)
        ref = intent.order_ref(0)
        await _until(lambda: ref in pipeline.trades
                     and pipeline.trades[ref].orderStatus.status == "Submitted")
        before = pipeline.working_spec(ref)
        lower = replace(before, limit=round(before.limit - 1, 2))  # type: ignore[operator]
        assert (await pipeline.modify(ref, lower)).outcome is Outcome.QUEUED
        # HALTED before the sender's turn: the change is withdrawn, never sent.
        pipeline._set_state(TradingState.HALTED, "test")
        assert not pipeline.queue
        assert pipeline.working_spec(ref) == before
        assert pipeline.trades[ref].order.lmtPrice == before.limit
    finally:
        await pipeline.session.close()


async def test_a_tif_changed_in_tws_is_the_one_a_modify_keeps(sim: SimServer,
                                                              tmp_path: Path) -> None:
    # ib_async refreshes only quantity, prices, type and orderRef of a Trade it holds:
    # without following the rest, this modify would send the order back as DAY.
    pipeline, _, _ = await _setup(sim, tmp_path, real_time=True)
    try:
        intent = _limit(pipeline, sim, offset=-3.0, tif=TimeInForce.DAY)
        await pipeline.submit(intent)
        ref = intent.order_ref(0)
        await _until(lambda: ref in pipeline.trades
                     and pipeline.trades[ref].orderStatus.status == "Submitted")
        sim.edit_order(ref, tif="GTC", outside_rth=True)
        await _until(lambda: pipeline.working_spec(ref).tif is TimeInForce.GTC)
        spec = pipeline.working_spec(ref)
        assert spec.outside_rth
        lower = round(spec.limit - 0.5, 2)  # type: ignore[operator]
        result = await pipeline.modify(ref, replace(spec, limit=lower))
        assert result.outcome is Outcome.QUEUED, result.message
        [order] = sim.orders.orders.values()
        await _until(lambda: order.req.limit == lower)
        assert (order.req.tif, order.req.outside_rth) == ("GTC", True)
    finally:
        await pipeline.session.close()

