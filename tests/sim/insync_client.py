"""An ib_insync 0.9.86 script, run in its own process by test_ib_insync.py (ib_insync
keeps its own event loop helpers; a process of its own leaves the tests' loop alone).
Connects to the simulator on the port given, does what everyday scripts do and prints
what it saw as one JSON object."""

from __future__ import annotations

import json
import sys

from ib_insync import IB, LimitOrder, MarketOrder, RequestError, ScannerSubscription, Stock


def wait(ib: IB, done, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if done():
            return
        ib.sleep(0.05)
    raise TimeoutError("not in time")


def main(port: int) -> dict[str, object]:
    ib = IB()
    ib.RequestTimeout = 10
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    ib.connect("127.0.0.1", port, clientId=7, timeout=10)
    report: dict[str, object] = {"server_version": ib.client.serverVersion(),
                                 "accounts": ib.managedAccounts()}
    [details] = ib.reqContractDetails(Stock("AAPL", "SMART", "USD"))
    report["details"] = [details.contract.conId, details.longName, details.minTick]
    [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktData(aapl)
    wait(ib, lambda: ticker.bid > 0 and ticker.close > 0)
    report["quote"] = [ticker.bid, ticker.ask, ticker.close]
    [msft] = ib.reqTickers(Stock("MSFT", "SMART", "USD"))
    report["snapshot"] = [msft.contract.symbol, msft.bid > 0]

    trade = ib.placeOrder(aapl, MarketOrder("BUY", 10))
    wait(ib, lambda: trade.isDone() and bool(trade.fills)
         and trade.fills[0].commissionReport.commission > 0)
    report["trade"] = [trade.orderStatus.status, trade.orderStatus.filled,
                       [[f.execution.shares, f.commissionReport.commission]
                        for f in trade.fills]]
    # ib_insync answers reqExecutions with fresh fills (the commission goes to the one it
    # holds, as against TWS); ib.fills() has both.
    report["executions"] = [[f.execution.side, f.execution.shares] for f in ib.reqExecutions()]
    report["fills"] = [[f.execution.execId, f.commissionReport.commission] for f in ib.fills()]
    wait(ib, lambda: any(p.position == 310 for p in ib.positions()))
    report["positions"] = {p.contract.symbol: p.position for p in ib.positions()}
    report["account"] = {v.tag: v.value for v in ib.accountValues()
                         if v.tag in ("NetLiquidation", "TotalCashValue")}
    state = ib.whatIfOrder(aapl, MarketOrder("BUY", 100))
    report["what_if"] = [float(state.initMarginChange), state.commission]

    working = ib.placeOrder(aapl, LimitOrder("BUY", 1, round(ticker.bid - 20, 2)))
    wait(ib, lambda: working.orderStatus.status == "Submitted")
    report["open_orders"] = [t.order.orderId for t in ib.reqAllOpenOrders()]
    ib.cancelOrder(working.order)
    wait(ib, lambda: working.orderStatus.status == "Cancelled")
    report["cancel"] = [working.order.orderId, working.orderStatus.status]
    report["completed"] = sorted(t.orderStatus.status for t in ib.reqCompletedOrders(False))

    rows = ib.reqScannerData(ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE", numberOfRows=3))
    report["scanner"] = [r.contractDetails.contract.symbol for r in rows]
    # Calls that must end however they are served at 176: by name, or on their id.
    report["ended"] = {
        "scanner_parameters": bool(ib.reqScannerParameters()),
        "news_providers": len(ib.reqNewsProviders()),
        "depth_exchanges": isinstance(ib.reqMktDepthExchanges(), list),
        "historical_data": isinstance(ib.reqHistoricalData(
            aapl, "", "1 D", "1 hour", "TRADES", True, timeout=10), list),
    }

    ib.RaiseRequestErrors = True
    for key, call in (("unserved", lambda: ib.reqFundamentalData(aapl, "ReportSnapshot")),
                      ("no_exchange", lambda: ib.whatIfOrder(Stock("XXX"),
                                                             MarketOrder("BUY", 100)))):
        try:
            call()
            report[key] = None
        except RequestError as exc:
            report[key] = exc.code
    report["errors"] = errors
    ib.disconnect()
    return report


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
