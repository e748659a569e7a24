"""Combos of stock and its options (a covered call bought as one BAG, 100 shares to 1
call; a collar) driven by the real ib_async client: quoted per share, filled leg by leg
(100 shares and -1 call in the positions), commissions per leg, and a what-if whose short
call costs nothing beyond the stock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder

from ibterm.sim.scenario import AccountDef
from ibterm.sim.server import SimServer
from tests.conftest import manual_scenario
from tests.sim.test_combo_quotes import bag, until

ACCOUNT = "DU1234567"
CALL, PUT = "SPY 20261218 610 C", "SPY 20261218 590 P"
COVERED = (("SPY", 100, "BUY"), (CALL, 1, "SELL"))


@pytest.fixture
async def flat() -> AsyncIterator[SimServer]:
    """An account with cash only: the what-if is the covered call's alone."""
    server = SimServer(manual_scenario(accounts=[AccountDef(id=ACCOUNT)]), seed=0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(flat: SimServer) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", flat.port, clientId=11, timeout=5)
    yield ib
    ib.disconnect()


def _per_share(sim: SimServer, buy: bool, *legs: tuple[str, int, str]) -> float:
    """The natural price of a stock-and-option combo per share: a share's price counts
    1/100 of an option's."""
    total = 0.0
    for symbol, ratio, action in legs:
        sim_inst = sim.world.instruments[sim.con_id_of(symbol)]
        b = sim.market.book(sim_inst.instrument.con_id)
        leg_buy = (action == "BUY") == buy
        weight = sim_inst.instrument.multiplier / 100
        total += (1 if action == "BUY" else -1) * ratio * weight * (b.ask if leg_buy else b.bid)
    return round(total, 2)


async def test_a_covered_call_is_quoted_per_share_and_fills_every_leg(flat: SimServer,
                                                                     client: IB) -> None:
    ticker = client.reqMktData(bag(flat, *COVERED))
    flat.step()
    ask = _per_share(flat, True, *COVERED)
    await until(lambda: ticker.ask == ask, f"quote {ticker.ask} != {ask}")
    assert ticker.bid == _per_share(flat, False, *COVERED) < ask
    stock, call = (flat.market.book(flat.con_id_of(s)) for s in ("SPY", CALL))
    assert ask == pytest.approx(stock.ask - call.bid)  # the stock's price less the premium
    cash = flat.accounts[ACCOUNT].cash
    trade = client.placeOrder(bag(flat, *COVERED), LimitOrder("BUY", 1, ask))
    await until(trade.isDone, trade.orderStatus.status)
    assert (trade.orderStatus.status, trade.filled()) == ("Filled", 1)
    await until(lambda: all(f.commissionReport.execId for f in trade.fills), "commissions")
    seen = {f.contract.secType: (f.execution.side, f.execution.shares, f.execution.price,
                                 f.commissionReport.commission) for f in trade.fills}
    assert seen == {"STK": ("BOT", 100, stock.ask, 1.0), "OPT": ("SLD", 1, call.bid, 1.0),
                    "BAG": ("BOT", 1, ask, 0.0)}
    await until(lambda: len(client.positions()) == 2, "positions")
    assert sorted((p.contract.secType, p.position) for p in client.positions()) == [
        ("OPT", -1), ("STK", 100)]
    assert flat.accounts[ACCOUNT].cash == pytest.approx(cash - ask * 100 - 2.0)


async def test_a_covered_calls_what_if_is_the_stocks_and_a_collar_fills(
        flat: SimServer, client: IB) -> None:
    shares = await client.whatIfOrderAsync(Contract(conId=flat.con_id_of("SPY"),
                                                    exchange="SMART"), MarketOrder("BUY", 100))
    covered = await client.whatIfOrderAsync(bag(flat, *COVERED), MarketOrder("BUY", 1))
    naked = await client.whatIfOrderAsync(Contract(conId=flat.con_id_of(CALL),
                                                   exchange="SMART"), MarketOrder("SELL", 1))
    assert float(naked.initMarginChange) > 0
    # The short call is covered by the shares bought with it: it costs nothing more.
    assert float(covered.initMarginChange) == pytest.approx(float(shares.initMarginChange))
    assert float(covered.commission) == 2.0  # a commission per leg
    collar = ((*COVERED[0],), (PUT, 1, "BUY"), COVERED[1])
    trade = client.placeOrder(bag(flat, *collar), MarketOrder("BUY", 2))
    await until(trade.isDone, trade.orderStatus.status)
    assert trade.filled() == 2
    assert trade.orderStatus.avgFillPrice == pytest.approx(_per_share(flat, True, *collar))
    positions = flat.accounts[ACCOUNT].positions
    assert [positions[flat.con_id_of(s)].quantity for s in ("SPY", PUT, CALL)] == [200, 2, -2]
