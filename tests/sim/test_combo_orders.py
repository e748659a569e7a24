"""Combo (BAG) orders driven by the real ib_async client: filled whole against the legs'
books, one execution per leg and the combo's, positions, commissions and cash of every
leg; limits at a debit or a credit, modified, cancelled; a combo's what-if is the margin
of all its legs at once; IB's errors for a combo it cannot take."""

from __future__ import annotations

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Trade

from ibterm.sim.server import SimServer
from tests.sim.test_combo_quotes import bag, until

ACCOUNT = "DU1234567"
LONG, SHORT = "SPY 20261218 600 C", "SPY 20261218 610 C"


def _natural(sim: SimServer, buy: bool, *legs: tuple[str, int, str]) -> float:
    """The combo's natural price: what buying (or selling) it whole pays at the legs'."""
    total = 0.0
    for symbol, ratio, action in legs:
        b = sim.market.book(sim.con_id_of(symbol))
        leg_buy = (action == "BUY") == buy
        total += (1 if action == "BUY" else -1) * ratio * (b.ask if leg_buy else b.bid)
    return round(total, 2)


async def _done(trade: Trade) -> None:
    await until(trade.isDone, f"{trade.orderStatus.status}")


async def test_a_call_vertical_fills_every_leg_at_the_combo_price(sim: SimServer,
                                                                   ib: IB) -> None:
    legs = ((LONG, 1, "BUY"), (SHORT, 1, "SELL"))
    cash = sim.accounts[ACCOUNT].cash
    long_b, short_b = (sim.market.book(sim.con_id_of(s)) for s in (LONG, SHORT))
    price = _natural(sim, True, *legs)
    trade = ib.placeOrder(bag(sim, *legs), MarketOrder("BUY", 2))
    await _done(trade)
    assert trade.orderStatus.status == "Filled"
    assert trade.filled() == 2
    assert trade.orderStatus.avgFillPrice == pytest.approx(price)
    await until(lambda: all(f.commissionReport.execId for f in trade.fills), "commissions")
    by_type = {(f.contract.secType, f.contract.conId): f for f in trade.fills}
    assert len(trade.fills) == 3
    combo = by_type[("BAG", 28812380)]
    assert (combo.execution.side, combo.execution.shares) == ("BOT", 2)
    assert combo.execution.price == pytest.approx(price)
    bought = by_type[("OPT", sim.con_id_of(LONG))]
    sold = by_type[("OPT", sim.con_id_of(SHORT))]
    assert (bought.execution.side, bought.execution.price) == ("BOT", long_b.ask)
    assert (sold.execution.side, sold.execution.price) == ("SLD", short_b.bid)
    assert {f.execution.permId for f in trade.fills} == {trade.order.permId}
    # A commission per leg (0.65 a contract, at least 1.00); the combo's own is nothing.
    assert bought.commissionReport.commission == sold.commissionReport.commission == 1.30
    assert combo.commissionReport.commission == 0
    await until(lambda: {p.contract.conId: p.position for p in ib.positions()}.get(
        sim.con_id_of(SHORT)) == -2, "positions")
    positions = {p.contract.conId: p.position for p in ib.positions()}
    assert positions[sim.con_id_of(LONG)] == 2 and positions[sim.con_id_of(SHORT)] == -2
    assert sim.accounts[ACCOUNT].cash == pytest.approx(cash - price * 200 - 2.60)
    # The open order and the executions name the combo and its legs as TWS does.
    assert trade.contract.secType == "BAG"
    executions = await ib.reqExecutionsAsync()
    assert sorted(f.contract.secType for f in executions) == ["BAG", "OPT", "OPT"]


async def test_a_credit_limit_works_until_the_natural_reaches_it(sim: SimServer,
                                                                 ib: IB) -> None:
    # Selling the vertical the other way round: buying it for a credit (a negative price).
    legs = ((SHORT, 1, "BUY"), (LONG, 1, "SELL"))
    natural = _natural(sim, True, *legs)
    assert natural < 0
    trade = ib.placeOrder(bag(sim, *legs), LimitOrder("BUY", 1, round(natural - 0.5, 2)))
    await until(lambda: trade.orderStatus.status == "Submitted", "not working")
    sim.step()
    assert trade.orderStatus.status == "Submitted" and trade.filled() == 0
    # Modified to take the natural price: it fills at once.
    trade.order.lmtPrice = _natural(sim, True, *legs)
    ib.placeOrder(trade.contract, trade.order)
    await _done(trade)
    assert trade.orderStatus.status == "Filled" and trade.filled() == 1
    assert trade.orderStatus.avgFillPrice <= trade.order.lmtPrice + 1e-9


async def test_a_working_combo_is_cancelled(sim: SimServer, ib: IB) -> None:
    legs = ((LONG, 1, "BUY"), (SHORT, 1, "SELL"))
    low = round(_natural(sim, True, *legs) - 1.0, 2)
    first = ib.placeOrder(bag(sim, *legs), LimitOrder("BUY", 1, low))
    second = ib.placeOrder(bag(sim, *legs), LimitOrder("BUY", 3, low))
    await until(lambda: second.orderStatus.status == "Submitted", "not working")
    ib.cancelOrder(first.order)
    await _done(first)
    assert first.orderStatus.status == "Cancelled"
    ib.reqGlobalCancel()
    await _done(second)
    assert second.orderStatus.status == "Cancelled" and second.filled() == 0
    assert sim.con_id_of(LONG) not in sim.accounts[ACCOUNT].positions
    # Completed orders name the combo with its legs.
    completed = await ib.reqCompletedOrdersAsync(False)
    assert [(t.contract.secType, [leg.conId for leg in t.contract.comboLegs],
             t.orderStatus.status) for t in completed] == [
        ("BAG", [sim.con_id_of(LONG), sim.con_id_of(SHORT)], "Cancelled")] * 2


async def test_a_bracket_on_a_combo_parent(sim: SimServer, ib: IB) -> None:
    legs = ((LONG, 1, "BUY"), (SHORT, 1, "SELL"))
    price = _natural(sim, True, *legs)
    parent = LimitOrder("BUY", 1, price, orderId=ib.client.getReqId(), transmit=False)
    profit = LimitOrder("SELL", 1, round(price + 3.0, 2), parentId=parent.orderId)
    held = ib.placeOrder(bag(sim, *legs), parent)
    child = ib.placeOrder(bag(sim, *legs), profit)
    await _done(held)
    await until(lambda: child.orderStatus.status == "Submitted", "child not released")
    assert held.filled() == 1 and child.filled() == 0
    ib.cancelOrder(child.order)
    await _done(child)
    assert child.orderStatus.status == "Cancelled"


async def test_an_iron_condor_what_if_costs_its_width(sim: SimServer, ib: IB) -> None:
    condor = bag(sim, ("SPY 20261218 570 P", 1, "BUY"), ("SPY 20261218 580 P", 1, "SELL"),
                 ("SPY 20261218 620 C", 1, "SELL"), ("SPY 20261218 630 C", 1, "BUY"))
    state = await ib.whatIfOrderAsync(condor, LimitOrder("BUY", 3, -2.0))
    # Width 10 on each side, only one side can lose: 10 x 100 x 3, not four naked legs.
    assert float(state.initMarginChange) == pytest.approx(3000.0, abs=0.01)
    assert float(state.maintMarginChange) == pytest.approx(3000.0, abs=0.01)
    assert float(state.commission) == pytest.approx(4 * 1.95)
    assert not sim.orders.orders  # a preview keeps nothing


@pytest.mark.parametrize(("legs", "code", "text"), [
    (((LONG, 1, "BUY"), (SHORT, 0, "SELL")), 321,
     "Error validating request.-'bN' : cause - The combo details for leg '1' are invalid."),
    (((LONG, 1, "BUY"), ("AAPL 20261218 230 C", 1, "SELL")), 321,
     "Error validating request.-'bN' : cause - The combo details are invalid."),
])
async def test_bad_combo_orders_get_ibs_errors(sim: SimServer, ib: IB,
                                               legs: tuple[tuple[str, int, str], ...],
                                               code: int, text: str) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, c, msg, _: errors.append((c, msg))
    trade = ib.placeOrder(bag(sim, *legs, exchange="CBOE"), MarketOrder("BUY", 1))
    await until(lambda: bool(errors), "no error")
    assert errors == [(code, text)]
    assert not sim.orders.orders and trade.filled() == 0


async def test_an_unknown_leg_is_no_security(sim: SimServer, ib: IB) -> None:
    contract = bag(sim, (LONG, 1, "BUY"))
    contract.comboLegs[0].conId = 999
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
    await _done(trade)
    assert trade.orderStatus.status == "Cancelled"
    assert [e.errorCode for e in trade.log if e.errorCode] == [200]


async def test_selling_a_combo_reverses_every_leg(sim: SimServer, ib: IB) -> None:
    legs = ((LONG, 1, "BUY"), (SHORT, 1, "SELL"))
    price = _natural(sim, False, *legs)
    long_b, short_b = (sim.market.book(sim.con_id_of(s)) for s in (LONG, SHORT))
    trade = ib.placeOrder(bag(sim, *legs), LimitOrder("SELL", 1, round(price - 0.05, 2)))
    await _done(trade)
    assert trade.orderStatus.avgFillPrice == pytest.approx(price)  # better than its limit
    sides = {f.contract.conId: (f.execution.side, f.execution.price) for f in trade.fills}
    assert sides == {sim.con_id_of(LONG): ("SLD", long_b.bid),
                     sim.con_id_of(SHORT): ("BOT", short_b.ask), 28812380: ("SLD", price)}
    positions = sim.accounts[ACCOUNT].positions
    assert positions[sim.con_id_of(LONG)].quantity == -1
    assert positions[sim.con_id_of(SHORT)].quantity == 1


async def test_a_combos_legs_cannot_be_modified(sim: SimServer, ib: IB) -> None:
    legs = ((LONG, 1, "BUY"), (SHORT, 1, "SELL"))
    trade = ib.placeOrder(bag(sim, *legs), LimitOrder("BUY", 1, 0.05))
    await until(lambda: trade.orderStatus.status == "Submitted", "not working")
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, c, msg, _: errors.append((c, msg))
    ib.placeOrder(bag(sim, (LONG, 1, "BUY"), (SHORT, 2, "SELL")), trade.order)
    await until(lambda: bool(errors), "no error")
    assert errors == [(201, "Order rejected - reason:The contract of an order cannot be "
                            "modified")]
