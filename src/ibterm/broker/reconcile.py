"""Reconciliation: the journal against what the gateway says, on start and after every
reconnect. Orders keep working on the server while the app is away, so differences are
reported, never "fixed" by resending."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum

from ib_async import Trade

from ibterm.broker.journal import Journal
from ibterm.broker.order_gateway import OrderGateway, PositionKey, PositionSeen
from ibterm.domain.numbers import plain
from ibterm.domain.orders import FINAL_STATUSES

log = logging.getLogger("ibterm.reconcile")

DONE = FINAL_STATUSES
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
    shares: float = 0.0  # GONE: filled at the gateway; MISSED_FILL: the execution's
    price: float = 0.0  # GONE: average fill price; MISSED_FILL: the execution's price
    exec_id: str = ""  # MISSED_FILL
    side: str = ""  # MISSED_FILL: BOT / SLD



def settled_message(d: Discrepancy) -> str:
    """What the blotter and the journal say of an order that ended while away."""
    if not d.now:
        return "the gateway has no record of it: it was not sent again"
    return f"{d.now} at the gateway while the app was away"


def position_changes(before: dict[PositionKey, PositionSeen],
                     after: dict[PositionKey, PositionSeen]) -> list[Discrepancy]:
    """Positions that moved between the loss of the link and the reconnect."""
    found = []
    for key in sorted(before.keys() | after.keys()):
        old, symbol = before.get(key, (0.0, ""))
        new, symbol2 = after.get(key, (0.0, symbol))
        if old != new:
            found.append(Discrepancy(Difference.POSITION, "", symbol or symbol2,
                                     f"{key[0]}: {plain(old)} -> {plain(new)} while the app "
                                     "was away"))
    return found


async def reconcile(gateway: OrderGateway, journal: Journal, since: dt.datetime | None = None
                    ) -> tuple[list[Discrepancy], list[Trade]]:
    """Compare; journal every difference; return them and the gateway's open trades.

    What reconciliation learns goes into the journal, so it is reported once: an order
    that ended while the app was away gets its final status (NotReceived when the gateway
    has no record of it), a missed execution becomes a fill."""
    # The journal first: an order sent while the answers below are awaited is not in
    # this snapshot and is not judged (the gateway's open orders may not show it yet).
    states = journal.open_orders(DONE)
    open_trades = await gateway.all_open_orders(TIMEOUT)
    # After a reconnect only the executions since shortly before the link went: the
    # earlier ones were seen live. (The day's list grows, and ib_async keeps a copy.)
    fills = await gateway.executions(since, TIMEOUT)
    # Read after the executions came: fills journaled meanwhile (live) are known.
    known_execs = journal.known_execs(
        [f.execution.execId for f in fills if f.execution.orderRef.startswith("ibterm-")])
    found: list[Discrepancy] = []

    working_refs = {t.order.orderRef for t in open_trades}
    # The day's completed orders are only asked for when some order of the journal needs
    # explaining: the list grows all day and ib_async keeps every one it is sent.
    unexplained = any(status not in DONE and ref not in working_refs
                      for ref, (status, _) in states.items())
    completed: list[Trade] = (
        await gateway.completed_orders(TIMEOUT) if unexplained else [])
    for t in open_trades:
        ref = t.order.orderRef
        if ref not in states and not journal.knows(ref):
            who = f"clientId {t.order.clientId}" if t.order.clientId else "TWS or another client"
            found.append(Discrepancy(
                Difference.UNKNOWN_ORDER, ref, t.contract.localSymbol or t.contract.symbol,
                f"{t.order.action} {plain(t.order.totalQuantity)} {t.order.orderType} "
                f"({t.orderStatus.status}) placed by {who}"))
    final = {t.order.orderRef: t for t in completed if t.order.orderRef}
    executed: dict[str, tuple[float, float]] = {}  # ref -> (shares, shares x price)
    # A combination's fills count as its BAG executions only: its legs' executions, on
    # the legs' contracts, come with them and are no more combinations filled.
    combos = {f.execution.orderRef for f in fills if f.contract.secType == "BAG"}
    for f in fills:
        if f.execution.orderRef in combos and f.contract.secType != "BAG":
            continue
        shares, value = executed.get(f.execution.orderRef, (0.0, 0.0))
        executed[f.execution.orderRef] = (shares + f.execution.shares,
                                          value + f.execution.shares * f.execution.price)
    for ref, (status, symbol) in states.items():
        if status in DONE or ref in working_refs:
            continue
        done = final.get(ref)
        now = done.orderStatus.status if done is not None else ""
        detail = (f"now {now} at the gateway" if now else
                  "not among the gateway's open or completed orders")
        if status == "Submitted-unacknowledged":
            detail += " (its acknowledgement was lost: it is not sent again)"
        shares, value = executed.get(ref, (0.0, 0.0))
        if done is not None and not shares:
            filled = float(done.order.filledQuantity)
            shares = filled if filled < 1e300 else 0.0
        found.append(Discrepancy(Difference.GONE, ref, symbol, f"journal: {status}; {detail}",
                                 now, shares, value / shares if value and shares else 0.0))
    for f in fills:
        ex = f.execution
        if ex.orderRef.startswith("ibterm-") and ex.execId not in known_execs:
            found.append(Discrepancy(
                Difference.MISSED_FILL, ex.orderRef, f.contract.localSymbol or f.contract.symbol,
                f"{ex.side} {plain(ex.shares)} at {plain(ex.price)} ({ex.execId})",
                shares=ex.shares, price=ex.price, exec_id=ex.execId, side=ex.side))
    for d in found:
        journal.record("reconcile", order_ref=d.order_ref, symbol=d.symbol,
                       difference=d.kind.value, detail=d.detail)
        if d.kind is Difference.GONE:
            journal.record("status", order_ref=d.order_ref, symbol=d.symbol,
                           status=d.now or NOT_RECEIVED, filled=d.shares, remaining=0.0,
                           avg_price=d.price, message=f"reconciled: {settled_message(d)}")
        elif d.kind is Difference.MISSED_FILL:
            journal.record("fill", order_ref=d.order_ref, symbol=d.symbol, exec_id=d.exec_id,
                           side=d.side, shares=d.shares, price=d.price,
                           source="reconciliation")
    log.info("reconciliation: %d difference(s)", len(found))
    return found, open_trades
