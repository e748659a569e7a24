"""Reconciliation: the journal against what the gateway says, on start and after every
reconnect. Orders keep working on the server while the app is away, so differences are
reported, never "fixed" by resending."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from ib_async import IB, Trade

from ibterm.broker.journal import Journal

log = logging.getLogger("ibterm.reconcile")

DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive", "NotSent", "NotReceived"})
# The status given to an order sent as the link dropped, which the gateway has no record
# of: final, and never sent again (it may not be resent blindly: see docs/orders.md).
NOT_RECEIVED = "NotReceived"
TIMEOUT = 10.0


class Difference(StrEnum):
    UNKNOWN_ORDER = "unknown order"  # working at the gateway, not in the journal
    GONE = "gone"  # the journal thinks it works; the gateway has no such open order
    MISSED_FILL = "missed fill"  # an execution the journal never recorded
    POSITION = "position"  # a position that changed while the app was away


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: Difference
    order_ref: str
    symbol: str
    detail: str
    now: str = ""  # GONE: its status at the gateway now ("" when the gateway has no record)


PositionKey = tuple[str, int]  # (account, conId)


def position_changes(before: dict[PositionKey, tuple[float, str]],
                     after: dict[PositionKey, tuple[float, str]]) -> list[Discrepancy]:
    """Positions that moved between the loss of the link and the reconnect."""
    found = []
    for key in sorted(before.keys() | after.keys()):
        old, symbol = before.get(key, (0.0, ""))
        new, symbol2 = after.get(key, (0.0, symbol))
        if old != new:
            found.append(Discrepancy(Difference.POSITION, "", symbol or symbol2,
                                     f"{key[0]}: {old:g} -> {new:g} while the app was away"))
    return found


async def reconcile(ib: IB, journal: Journal) -> tuple[list[Discrepancy], list[Trade]]:
    """Compare; journal every difference; return them and the gateway's open trades."""
    open_trades: list[Trade] = await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), TIMEOUT)
    fills = await asyncio.wait_for(ib.reqExecutionsAsync(), TIMEOUT)
    states = journal.order_states()
    known_execs = journal.exec_ids()
    found: list[Discrepancy] = []

    working_refs = {t.order.orderRef for t in open_trades}
    # The day's completed orders are only asked for when some order of the journal needs
    # explaining: the list grows all day and ib_async keeps every one it is sent.
    unexplained = any(status not in DONE and ref not in working_refs
                      for ref, (status, _) in states.items())
    completed: list[Trade] = (
        await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), TIMEOUT) if unexplained
        else [])
    for t in open_trades:
        ref = t.order.orderRef
        if ref not in states:
            who = f"clientId {t.order.clientId}" if t.order.clientId else "TWS or another client"
            found.append(Discrepancy(
                Difference.UNKNOWN_ORDER, ref, t.contract.localSymbol or t.contract.symbol,
                f"{t.order.action} {t.order.totalQuantity:g} {t.order.orderType} "
                f"({t.orderStatus.status}) placed by {who}"))
    final = {t.order.orderRef: t.orderStatus.status for t in completed if t.order.orderRef}
    for ref, (status, symbol) in states.items():
        if status in DONE or ref in working_refs:
            continue
        now = final.get(ref)
        detail = (f"now {now} at the gateway" if now else
                  "not among the gateway's open or completed orders")
        if status == "Submitted-unacknowledged":
            detail += " (its acknowledgement was lost: it is not sent again)"
        found.append(Discrepancy(Difference.GONE, ref, symbol, f"journal: {status}; {detail}",
                                 now or ""))
    for f in fills:
        ref = f.execution.orderRef
        if ref.startswith("ibterm-") and f.execution.execId not in known_execs:
            found.append(Discrepancy(
                Difference.MISSED_FILL, ref, f.contract.localSymbol or f.contract.symbol,
                f"{f.execution.side} {f.execution.shares:g} at {f.execution.price:g} "
                f"({f.execution.execId})"))
    for d in found:
        journal.record("reconcile", order_ref=d.order_ref, symbol=d.symbol,
                       difference=d.kind.value, detail=d.detail)
    log.info("reconciliation: %d difference(s)", len(found))
    return found, open_trades
