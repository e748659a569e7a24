"""The orders the pipeline tracks: their Trades, what each was sent as, the queue, and
the status, fill and commission news they bring, published for the blotter."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ib_async import Contract, Fill, Order, Trade

from ibterm.broker.ledger import Ledger
from ibterm.broker.order_gateway import OrderGateway
from ibterm.broker.reconcile import DONE
from ibterm.domain.orders import FillUpdate, OrderIntent, OrderSpec, OrderUpdate

# A finished order stays tracked this long (seconds) for its late news: the last
# execution and commission reports can follow the final status. Then it is forgotten, so
# a long session does not grow with every order it ever sent (the journal keeps them).
RETAIN_FINISHED = 120.0
PACING_VIOLATION = 100
# Asked of the sender when error 100 cancels an order: True if it is sent again.
Requeue = Callable[[str, Trade], bool]


@dataclass(slots=True)
class QueuedOrder:
    intent: OrderIntent
    leg: int
    contract: Contract
    order: Order
    spec: OrderSpec
    modify: bool = False
    seq: int = 0  # place in the original queue order


def leg_of(order_ref: str) -> int:
    """The leg number an orderRef carries (`ibterm-<intent>-<leg>`); 0 for others'."""
    leg = order_ref.rsplit("-", 1)[-1]
    return int(leg) if leg.isdigit() else 0


class OrderTracker:
    def __init__(self, gateway: OrderGateway, ledger: Ledger, clock: Callable[[], float],
                 requeue: Requeue) -> None:
        self.gateway = gateway
        self.ledger = ledger
        self.clock = clock
        self._requeue = requeue
        self.queue: deque[QueuedOrder] = deque()
        self.trades: dict[str, Trade] = {}  # order_ref -> Trade
        self.specs: dict[str, tuple[OrderIntent, OrderSpec]] = {}
        self.sent: dict[str, QueuedOrder] = {}  # order_ref -> what was last sent for it
        self.paced: set[str] = set()  # order refs already sent again after error 100
        self.finished: deque[tuple[float, str]] = deque()  # (when, order_ref), oldest first
        gateway.on_commission(self._on_commission)

    def queued_now(self) -> None:
        self.ledger.update.queued = len(self.queue)

    def is_queued(self, ref: str) -> bool:
        return any(q.order.orderRef == ref for q in self.queue)

    def working(self, ref: str) -> Trade | None:
        """The order's Trade while it works at the gateway, else None."""
        trade = self.trades.get(ref)
        return trade if trade is not None and not trade.isDone() else None

    def working_orders(self) -> list[OrderUpdate]:
        """Every tracked order still working at the gateway, as the blotter shows it."""
        return [self._snapshot(ref, trade) for ref, trade in self.trades.items()
                if not trade.isDone()]

    async def until_done(self, refs: Collection[str], timeout: float) -> None:
        """Wait (at most `timeout` seconds) until none of these orders works any more."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(self.working(ref) is not None for ref in refs):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)

    def forget_finished(self) -> None:
        cutoff = self.clock() - RETAIN_FINISHED
        while self.finished and self.finished[0][0] < cutoff:
            _, ref = self.finished.popleft()
            trade = self.trades.get(ref)
            if (trade is not None and not trade.isDone()) or self.is_queued(ref):
                continue  # sent again (pacing) or re-attached: still ours to track
            if trade is not None:
                self.unfollow(trade)
            for tracked in (self.trades, self.specs, self.sent):
                tracked.pop(ref, None)
            self.paced.discard(ref)

    # --- following Trades ------------------------------------------------------------
    def follow(self, ref: str, trade: Trade) -> None:
        self.trades[ref] = trade
        self.gateway.follow(trade, self.on_status, self._on_fill)

    def unfollow(self, trade: Trade) -> None:
        self.gateway.unfollow(trade, self.on_status, self._on_fill)

    def publish(self, ref: str, status: str, filled: float, remaining: float, avg: float,
                order_id: int, message: str = "") -> None:
        self.ledger.update.orders.append(
            self._update(ref, status, filled, remaining, avg, order_id, message))

    def _update(self, ref: str, status: str, filled: float, remaining: float, avg: float,
                order_id: int, message: str = "") -> OrderUpdate:
        intent, spec = self.specs[ref]
        return OrderUpdate(
            order_ref=ref, intent_id=intent.id, instrument=spec.instrument, side=spec.side,
            quantity=filled + remaining, order_type=spec.order_type, limit=spec.limit,
            stop=spec.stop, status=status, filled=filled, remaining=remaining, avg_price=avg,
            order_id=order_id, message=message, kind=intent.kind, leg=leg_of(ref),
            combo=spec.combo, strategy=spec.strategy)

    def _snapshot(self, ref: str, trade: Trade, message: str = "") -> OrderUpdate:
        st = trade.orderStatus
        remaining = st.remaining if st.remaining or st.filled else trade.order.totalQuantity
        return self._update(ref, st.status, st.filled, remaining, st.avgFillPrice,
                            trade.order.orderId, message)

    def on_status(self, trade: Trade) -> None:
        ref = trade.order.orderRef
        if ref not in self.specs:
            return
        st = trade.orderStatus
        message = trade.log[-1].message if trade.log and trade.log[-1].message else ""
        intent, spec = self.specs[ref]
        self.ledger.record("status", intent_id=intent.id, order_ref=ref,
                           symbol=spec.display, status=st.status, filled=st.filled,
                           remaining=st.remaining, avg_price=st.avgFillPrice, message=message)
        self.ledger.update.orders.append(self._snapshot(ref, trade, message))
        if (st.status == "Cancelled" and trade.log and trade.log[-1].errorCode == PACING_VIOLATION
                and self._requeue(ref, trade)):
            return
        if st.status in DONE:
            self.finished.append((self.clock(), ref))
        if st.status in ("Cancelled", "Inactive") and message:
            self.ledger.notice("warning", f"{spec.describe()}: {message}")

    def _on_fill(self, trade: Trade, fill: Fill) -> None:
        ref = trade.order.orderRef
        if ref not in self.specs:
            return
        intent, spec = self.specs[ref]
        ex = fill.execution
        inst, side = spec.instrument, spec.side
        leg: dict[str, str] = {}
        name = ""  # a leg's fill is named by its contract, the combination's by the order
        if spec.combo:
            # A combination's executions come one per leg, on the leg's contract, and one
            # for the combination itself (the BAG): each is journaled as what it filled.
            part = next((c for c in spec.combo if c.instrument.con_id == fill.contract.conId),
                        None)
            if part is not None:
                inst, side = part.instrument, spec.leg_side(part)
            leg = {"leg": inst.display if part is not None else "combo"}
            name = "" if part is not None else spec.display
        self.ledger.record("fill", intent_id=intent.id, order_ref=ref,
                           symbol=spec.display, exec_id=ex.execId, side=ex.side,
                           shares=ex.shares, price=ex.price, time=str(ex.time), **leg)
        self.ledger.update.fills.append(FillUpdate(ref, ex.execId, inst, side, ex.shares,
                                                   ex.price, None, str(ex.time), name))

    def _on_commission(self, trade: Trade, fill: Fill, report: object) -> None:
        ref = trade.order.orderRef
        if ref in self.specs:
            intent, spec = self.specs[ref]
            commission = getattr(report, "commission", None)
            self.ledger.record("commission", intent_id=intent.id, order_ref=ref,
                               symbol=spec.display, exec_id=fill.execution.execId,
                               commission=commission)
            if commission is not None:
                self.ledger.update.commissions[fill.execution.execId] = commission

