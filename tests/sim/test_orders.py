"""The simulator's order engine, driven by the real ib_async client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Order, StopOrder, Trade

from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario

AAPL = Contract(conId=265598, exchange="SMART")
ACCOUNT = "DU1234567"


async def _until(predicate: Callable[[], bool], sim: SimServer | None = None,
                 timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        if sim is not None:
            sim.step()
        await asyncio.sleep(0.02)


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=7, timeout=5)
    yield ib
    ib.disconnect()


def _errors(ib: IB) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: seen.append((req_id, code))
    return seen


def _book(sim: SimServer):  # type: ignore[no-untyped-def]
    return sim.market.book(265598)


async def _done(trade: Trade) -> None:
    await _until(trade.isDone)


async def test_market_order_fills_at_the_touch_and_moves_the_account(client: IB,
                                                                     sim: SimServer) -> None:
    cash_before = sim.accounts[ACCOUNT].cash
    book = _book(sim)
    trade = client.placeOrder(AAPL, MarketOrder("BUY", 100))
    await _done(trade)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == book.ask
    [fill] = trade.fills
    assert fill.execution.side == "BOT" and fill.execution.shares == 100
    assert fill.commissionReport.commission == 1.0  # 100 shares: the 1.00 minimum
    position = {p.contract.conId: p.position for p in client.positions()}
    await _until(lambda: {p.contract.conId: p.position for p in client.positions()}[265598]
                 == 400)
    assert position  # startup positions were there before
    assert sim.accounts[ACCOUNT].cash == pytest.approx(cash_before - 100 * book.ask - 1.0)


async def test_partial_fills_against_the_displayed_size(client: IB, sim: SimServer) -> None:
    size = _book(sim).ask_size
    trade = client.placeOrder(AAPL, MarketOrder("BUY", size + 100))
    await _until(lambda: trade.orderStatus.filled == size)
    assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 100
    await _until(trade.isDone, sim)
    assert trade.orderStatus.status == "Filled" and len(trade.fills) >= 2
    assert sum(f.execution.shares for f in trade.fills) == size + 100


async def test_resting_limit_then_cancel(client: IB, sim: SimServer) -> None:
    price = round(_book(sim).bid - 5.0, 2)
    trade = client.placeOrder(AAPL, LimitOrder("BUY", 10, price))
    await _until(lambda: trade.orderStatus.status == "Submitted")
    sim.step(3)
    assert trade.orderStatus.filled == 0
    client.cancelOrder(trade.order)
    await _done(trade)
    assert trade.orderStatus.status == "Cancelled"


async def test_marketable_limit_fills_at_the_better_price(client: IB, sim: SimServer) -> None:
    ask = _book(sim).ask
    trade = client.placeOrder(AAPL, LimitOrder("BUY", 10, round(ask + 1.0, 2)))
    await _done(trade)
    assert trade.orderStatus.avgFillPrice == ask


async def test_ioc_that_cannot_fill_is_cancelled(client: IB, sim: SimServer) -> None:
    order = LimitOrder("BUY", 10, round(_book(sim).bid - 5.0, 2), tif="IOC")
    trade = client.placeOrder(AAPL, order)
    await _done(trade)
    assert trade.orderStatus.status == "Cancelled" and trade.orderStatus.filled == 0


async def test_stop_waits_presubmitted_and_triggers_on_the_last_price(client: IB,
                                                                      sim: SimServer) -> None:
    last = _book(sim).last
    far = client.placeOrder(AAPL, StopOrder("SELL", 10, round(last - 20, 2)))
    near = client.placeOrder(AAPL, StopOrder("SELL", 10, round(last + 0.5, 2)))
    await _done(near)
    assert near.orderStatus.status == "Filled"
    assert far.orderStatus.status == "PreSubmitted"
    stop_limit = Order(action="BUY", totalQuantity=5, orderType="STP LMT",
                       auxPrice=round(last - 0.5, 2), lmtPrice=round(last + 2.0, 2))
    trade = client.placeOrder(AAPL, stop_limit)
    await _done(trade)
    assert trade.orderStatus.avgFillPrice <= last + 2.0


async def test_trailing_stop_follows_and_triggers(client: IB, sim: SimServer) -> None:
    order = Order(action="SELL", totalQuantity=10, orderType="TRAIL", trailingPercent=0.02)
    trade = client.placeOrder(AAPL, order)
    await _until(lambda: trade.orderStatus.status == "PreSubmitted")
    await _until(trade.isDone, sim, timeout=10)
    assert trade.orderStatus.status == "Filled"


async def test_bracket_take_profit_fill_cancels_the_stop(client: IB, sim: SimServer) -> None:
    book = _book(sim)
    # The take-profit is below the bid, so it is marketable the moment the parent fills.
    parent, take, stop = client.bracketOrder("BUY", 10, round(book.ask + 0.5, 2),
                                             round(book.bid - 1.0, 2), round(book.bid - 10, 2))
    trades = [client.placeOrder(AAPL, o) for o in (parent, take, stop)]
    await _until(lambda: all(t.isDone() for t in trades))
    assert [t.orderStatus.status for t in trades] == ["Filled", "Filled", "Cancelled"]


async def test_bracket_children_wait_for_the_parent_and_die_with_it(client: IB,
                                                                    sim: SimServer) -> None:
    book = _book(sim)
    parent, take, stop = client.bracketOrder("BUY", 10, round(book.bid - 5, 2),
                                             round(book.ask + 5, 2), round(book.bid - 10, 2))
    p = client.placeOrder(AAPL, parent)
    sim.step()
    assert sim.client(7) is not None
    assert all(o.held for o in sim.orders.orders.values())  # nothing leaves before the last leg
    t = client.placeOrder(AAPL, take)
    s = client.placeOrder(AAPL, stop)
    await _until(lambda: s.orderStatus.status == "PreSubmitted"
                 and t.orderStatus.status == "PreSubmitted" and p.orderStatus.status == "Submitted")
    client.cancelOrder(parent)
    await _until(lambda: all(x.isDone() for x in (p, t, s)))
    assert {x.orderStatus.status for x in (p, t, s)} == {"Cancelled"}


@pytest.mark.parametrize(("oca_type", "expected"), [(1, ("Filled", "Cancelled")),
                                                    (2, ("Filled", "Cancelled"))])
async def test_oca_groups(client: IB, sim: SimServer, oca_type: int,
                          expected: tuple[str, str]) -> None:
    book = _book(sim)
    a = LimitOrder("BUY", 10, round(book.ask + 0.1, 2), ocaGroup="g1", ocaType=oca_type)
    b = LimitOrder("BUY", 10, round(book.bid - 5, 2), ocaGroup="g1", ocaType=oca_type)
    tb = client.placeOrder(AAPL, b)
    await _until(lambda: tb.orderStatus.status == "Submitted")
    ta = client.placeOrder(AAPL, a)
    await _until(lambda: ta.isDone() and tb.isDone())
    assert (ta.orderStatus.status, tb.orderStatus.status) == expected


async def test_oca_type_2_reduces_the_others_by_the_fill(client: IB, sim: SimServer) -> None:
    book = _book(sim)
    resting = client.placeOrder(AAPL, LimitOrder("BUY", 30, round(book.bid - 5, 2),
                                                 ocaGroup="g2", ocaType=2))
    await _until(lambda: resting.orderStatus.status == "Submitted")
    filled = client.placeOrder(AAPL, LimitOrder("BUY", 10, round(book.ask + 0.1, 2),
                                                ocaGroup="g2", ocaType=2))
    await _done(filled)
    await _until(lambda: resting.order.totalQuantity == 20)
    assert resting.orderStatus.status == "Submitted"


async def test_oca_type_3_has_no_block(client: IB, sim: SimServer) -> None:
    book = _book(sim)
    price = round(book.bid - 5, 2)
    a = client.placeOrder(AAPL, LimitOrder("SELL", 10, price, ocaGroup="g3", ocaType=3))
    await _until(a.isDone)
    assert a.orderStatus.status == "Filled"
    # Two members marketable on the same step both fill: without block, it can overfill.
    engine_orders = [o for o in sim.orders.orders.values() if o.req.oca_group == "g4"]
    assert engine_orders == []
    # Two resting sells at the same price: the market step that reaches them reaches both.
    resting = round(_book(sim).bid + 0.03, 2)
    x = LimitOrder("SELL", 10, resting, ocaGroup="g4", ocaType=3)
    y = LimitOrder("SELL", 10, resting, ocaGroup="g4", ocaType=3)
    tx, ty = client.placeOrder(AAPL, x), client.placeOrder(AAPL, y)
    await _until(lambda: tx.orderStatus.filled + ty.orderStatus.filled > 0, sim, timeout=10)
    await asyncio.sleep(0.1)
    assert tx.orderStatus.filled + ty.orderStatus.filled == 20  # overfilled: no block


async def test_modify_reprices_and_a_filled_order_cannot_be_modified(client: IB,
                                                                     sim: SimServer) -> None:
    errors = _errors(client)
    book = _book(sim)
    order = LimitOrder("BUY", 10, round(book.bid - 5, 2))
    trade = client.placeOrder(AAPL, order)
    await _until(lambda: trade.orderStatus.status == "Submitted")
    order.lmtPrice = round(book.ask + 0.5, 2)
    client.placeOrder(AAPL, order)
    await _done(trade)
    assert trade.orderStatus.status == "Filled"
    order.lmtPrice = round(book.ask + 1.0, 2)
    # ib_async refuses this itself; the raw client shows what the gateway says.
    client.client.placeOrder(order.orderId, AAPL, order)
    await _until(lambda: (order.orderId, 104) in errors)


async def test_global_cancel(client: IB, sim: SimServer) -> None:
    price = round(_book(sim).bid - 5, 2)
    trades = [client.placeOrder(AAPL, LimitOrder("BUY", 1, price)) for _ in range(3)]
    await _until(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
    client.reqGlobalCancel()
    await _until(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))


async def test_what_if_returns_numbers_and_never_executes(client: IB, sim: SimServer) -> None:
    cash = sim.accounts[ACCOUNT].cash
    state = await asyncio.wait_for(client.whatIfOrderAsync(AAPL, MarketOrder("BUY", 1000)), 3)
    assert float(state.initMarginChange) == pytest.approx(0.5 * 1000 * sim.market.mark(265598),
                                                          rel=0.01)
    assert float(state.maintMarginChange) > 0 and state.commission == 5.0
    assert sim.accounts[ACCOUNT].cash == cash and not sim.orders.orders


async def test_house_surcharge_makes_the_gateway_differ() -> None:
    server = SimServer(manual_scenario(house_margin_surcharge=0.25))
    await server.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", server.port, clientId=8, timeout=5)
        state = await asyncio.wait_for(ib.whatIfOrderAsync(AAPL, MarketOrder("BUY", 100)), 3)
        plain = 0.5 * 100 * server.market.mark(265598)
        assert float(state.initMarginChange) == pytest.approx(plain * 1.25, rel=0.01)
    finally:
        ib.disconnect()
        await server.stop()


@pytest.mark.parametrize(("contract", "order", "code"), [
    (AAPL, LimitOrder("BUY", 10, 230.005), 110),
    (AAPL, LimitOrder("BUY", 0, 230.0), 201),
    (AAPL, LimitOrder("BUY", -5, 230.0), 201),
    (Contract(symbol="NOPE", secType="STK", exchange="SMART", currency="USD"),
     MarketOrder("BUY", 1), 200),
    (AAPL, MarketOrder("BUY", 1_000_000), 201),  # insufficient buying power
])
async def test_refusals_leave_state_unchanged(client: IB, sim: SimServer, contract: Contract,
                                              order: Order, code: int) -> None:
    errors = _errors(client)
    cash = sim.accounts[ACCOUNT].cash
    trade = client.placeOrder(contract, order)
    await _until(lambda: (order.orderId, code) in errors)
    await _done(trade)
    assert trade.orderStatus.status == "Cancelled"
    assert sim.accounts[ACCOUNT].cash == cash and not sim.orders.orders


async def test_cancel_of_an_unknown_order(client: IB) -> None:
    errors = _errors(client)
    client.client.cancelOrder(987654)
    await _until(lambda: (987654, 10147) in errors)


async def test_other_clients_and_the_order_books(client: IB, sim: SimServer) -> None:
    book = _book(sim)
    resting = client.placeOrder(AAPL, LimitOrder("BUY", 1, round(book.bid - 5, 2),
                                                 orderRef="ref-42"))
    done = client.placeOrder(AAPL, MarketOrder("SELL", 5))
    await _until(lambda: resting.orderStatus.status == "Submitted" and done.isDone())
    other = IB()
    await other.connectAsync("127.0.0.1", sim.port, clientId=9, timeout=5)
    try:
        assert other.openTrades() == []  # another client's orders are not its own
        trades = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), 3)
        assert [t.order.orderRef for t in trades] == ["ref-42"]
        completed = await asyncio.wait_for(other.reqCompletedOrdersAsync(apiOnly=True), 3)
        assert [t.orderStatus.status for t in completed] == ["Filled"]
        fills = await asyncio.wait_for(other.reqExecutionsAsync(), 3)
        assert [(f.execution.side, f.execution.shares) for f in fills] == [("SLD", 5.0)]
    finally:
        other.disconnect()


async def test_executions_filtered_by_time(sim: SimServer, ib: IB) -> None:
    import datetime as dt

    from ib_async import ExecutionFilter

    aapl = Contract(conId=265598, exchange="SMART")
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    while not trade.isDone():
        await asyncio.sleep(0.02)
    now = dt.datetime.now(dt.UTC)
    before = ExecutionFilter(time=f"{now - dt.timedelta(minutes=1):%Y%m%d-%H:%M:%S}")
    after = ExecutionFilter(time=f"{now + dt.timedelta(minutes=1):%Y%m%d %H:%M:%S} UTC")
    assert len(await ib.reqExecutionsAsync(before)) == 1
    assert await ib.reqExecutionsAsync(after) == []
