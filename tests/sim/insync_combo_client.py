"""An ib_insync 0.9.86 script trading combos, run in its own process by
test_ib_insync_combos.py: a vertical bought at market and sold back, a working credit
limit listed and cancelled, the completed orders, an iron condor's what-if; prints what it
saw as one JSON object."""

from __future__ import annotations

import json
import sys

from ib_insync import IB, Bag, ComboLeg, LimitOrder, MarketOrder, Option

from tests.sim.insync_client import wait


def bag(ib: IB, *legs: tuple[float, str, str]) -> Bag:
    options = ib.qualifyContracts(*[Option("SPY", "20261218", k, r, "SMART")
                                    for k, r, _ in legs])
    return Bag(symbol="SPY", exchange="SMART", currency="USD",
               comboLegs=[ComboLeg(conId=o.conId, ratio=1, action=a, exchange="SMART")
                          for o, (_, _, a) in zip(options, legs, strict=True)])


def main(port: int) -> dict[str, object]:
    ib = IB()
    ib.RequestTimeout = 10
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    ib.connect("127.0.0.1", port, clientId=8, timeout=10)
    report: dict[str, object] = {"server_version": ib.client.serverVersion()}
    vertical = bag(ib, (600, "C", "BUY"), (610, "C", "SELL"))
    ticker = ib.reqMktData(vertical)
    wait(ib, lambda: ticker.bid == ticker.bid and ticker.modelGreeks is not None)
    report["quote"] = [ticker.bid < ticker.ask, ticker.modelGreeks.delta > 0]
    trade = ib.placeOrder(vertical, MarketOrder("BUY", 2))
    wait(ib, lambda: trade.isDone() and len(trade.fills) == 3
         and all(f.commissionReport.execId for f in trade.fills))
    report["trade"] = [trade.orderStatus.status, trade.filled(),
                       sorted([f.contract.secType, f.execution.shares,
                               f.commissionReport.commission] for f in trade.fills)]
    wait(ib, lambda: len([p for p in ib.positions() if p.contract.secType == "OPT"]) == 2)
    report["positions"] = sorted(p.position for p in ib.positions()
                                 if p.contract.secType == "OPT")
    # Sold back: the same BAG SELL, each leg the other way round, the positions closed.
    sold = ib.placeOrder(vertical, MarketOrder("SELL", 2))
    wait(ib, lambda: sold.isDone() and len(sold.fills) == 3)
    report["sold"] = [sold.orderStatus.status, sold.filled(),
                      sorted([f.contract.secType, f.execution.side] for f in sold.fills)]
    wait(ib, lambda: not [p for p in ib.positions() if p.contract.secType == "OPT"
                          and p.position])
    credit = bag(ib, (610, "C", "BUY"), (600, "C", "SELL"))
    working = ib.placeOrder(credit, LimitOrder("BUY", 1, -9.5))
    wait(ib, lambda: working.orderStatus.status == "Submitted")
    listed = [t for t in ib.reqAllOpenOrders() if t.order.orderId == working.order.orderId]
    report["open_order"] = [[t.contract.secType, t.order.lmtPrice, len(t.contract.comboLegs)]
                            for t in listed]
    ib.cancelOrder(working.order)
    wait(ib, lambda: working.orderStatus.status == "Cancelled")
    report["completed"] = sorted([t.contract.secType, len(t.contract.comboLegs),
                                  t.orderStatus.status] for t in ib.reqCompletedOrders(False))
    condor = bag(ib, (570, "P", "BUY"), (580, "P", "SELL"), (620, "C", "SELL"),
                 (630, "C", "BUY"))
    state = ib.whatIfOrder(condor, LimitOrder("BUY", 1, -2.0))
    report["what_if"] = float(state.initMarginChange)
    report["errors"] = errors
    ib.disconnect()
    return report


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
