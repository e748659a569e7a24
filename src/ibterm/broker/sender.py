"""The sender: the throttled queue of order messages, sent one by one to the gateway,
withdrawn (unsent, reported) through a HALT or a lost link, and sent again once, in its
place, only when the gateway never accepted an order (pacing, error 100)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ib_async import Trade

from ibterm.broker.flatten import Flattener
from ibterm.broker.ledger import Ledger, Unjournaled, legs_data
from ibterm.broker.session import BrokerSession
from ibterm.broker.throttle import Throttle
from ibterm.broker.tracking import OrderTracker, QueuedOrder
from ibterm.domain.orders import IntentKind, TradingState

PACING_PAUSE = 1.1  # seconds: IB counts messages over one second
# What a modification changes of the IB order; everything else (its id, orderRef,
# account, parent and OCA links) is re-sent as it was.
MODIFIED_FIELDS = ("totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "outsideRth",
                   "trailingPercent", "trailStopPrice")


class Sender:
    def __init__(self, session: BrokerSession, tracker: OrderTracker, ledger: Ledger,
                 flattener: Flattener, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.session = session
        self.gateway = session.orders
        self.tracker = tracker
        self.ledger = ledger
        self.flattener = flattener
        self.clock = clock
        self.sleep = sleep
        self.throttle = Throttle(session.profile.order_rate, clock)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pause_until = 0.0  # after a pacing violation the gateway gets a breather

    def enqueue(self, item: QueuedOrder) -> None:
        self.tracker.queue.append(item)
        self.wake()

    def wake(self) -> None:
        """Something was queued: report the queue's length, and have it sent."""
        self.tracker.queued_now()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send_loop())
        self._wakeup.set()

    async def _send_loop(self) -> None:
        queue = self.tracker.queue
        while True:
            if not queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            wait = max(self.throttle.wait_time(), self._pause_until - self.clock())
            if wait > 0:
                await self.sleep(wait)
                continue
            if self.ledger.state is TradingState.HALTED and queue[0].intent.kind is not \
                    IntentKind.FLATTEN:
                self.withdraw("trading HALTED")
                continue
            if not self.session.connected:
                self.withdraw("connection to the gateway lost")
                continue
            item = queue.popleft()
            self.tracker.queued_now()
            self._send(item)

    def _send(self, item: QueuedOrder) -> None:
        ref = item.order.orderRef
        flatten = item.intent.kind is IntentKind.FLATTEN
        priced = {"priced_from": self.flattener.price(item)} if flatten else {}
        # Journaled before it leaves the process: a crash after this line loses nothing.
        try:
            self.ledger.record_before(item.intent, "submitted", intent_id=item.intent.id,
                                      order_ref=ref, symbol=item.spec.display,
                                      order_id=item.order.orderId, order=item.spec.describe(),
                                      transmit=item.order.transmit,
                                      parent_id=item.order.parentId, **priced,
                                      **legs_data(item.spec))
        except Unjournaled as exc:
            # Back at the head, so it is withdrawn and reported with the rest of the queue.
            self.tracker.queue.appendleft(item)
            self.withdraw(str(exc).removeprefix("not sent: "), keep_flatten=True)
            return
        self.throttle.record()
        self.tracker.sent[ref] = item
        working = self.tracker.trades.get(ref) if item.modify else None
        if working is not None:
            # ib_async keeps a modified order's Trade and reads its fields from that
            # Trade's own order: the change goes there now that it leaves, not before.
            for name in MODIFIED_FIELDS:
                setattr(working.order, name, getattr(item.order, name))
            self.tracker.specs[ref] = (item.intent, item.spec)
            trade = self.gateway.place(working.contract, working.order)
        else:
            trade = self.gateway.place(item.contract, item.order)
        if self.tracker.trades.get(ref) is not trade:  # a modify re-uses its Trade and handlers
            self.tracker.follow(ref, trade)
        self.tracker.on_status(trade)
        if flatten and not item.modify:
            self.flattener.watch(ref)

    def withdraw(self, reason: str, keep_flatten: bool = False) -> None:
        """Take every queued message back, unsent, and say so. `keep_flatten` leaves
        flatten's legs queued: a journal that cannot be written withdraws new orders, never
        the protective ones."""
        # Taken out of the queue first: a journal row failing below HALTs, and the HALT's
        # own withdrawal must find nothing left to withdraw twice.
        queue = self.tracker.queue
        items = list(queue)
        queue.clear()
        gone = []
        for item in items:
            if keep_flatten and item.intent.kind is IntentKind.FLATTEN:
                queue.append(item)
            else:
                gone.append(item)
        self.tracker.queued_now()
        if not gone:
            return
        for item in gone:
            ref = item.order.orderRef
            self.ledger.record("withdrawn", intent_id=item.intent.id, order_ref=ref,
                               symbol=item.spec.display, reason=reason,
                               modify=item.modify)
            trade = self.tracker.trades.get(ref)
            if item.modify and trade is not None:
                # The order itself still works at the gateway; only the change was not sent.
                st = trade.orderStatus
                self.tracker.publish(ref, st.status, st.filled, st.remaining, st.avgFillPrice,
                                     item.order.orderId, f"modification not sent: {reason}")
            else:
                self.tracker.publish(ref, "NotSent", 0.0, item.spec.quantity, 0.0,
                                     item.order.orderId, f"not sent: {reason}")
                self.tracker.finished.append((self.clock(), ref))
        self.ledger.notice("error", f"{len(gone)} queued order message(s) withdrawn, not sent: "
                                    f"{reason}")

    def requeue_after_pacing(self, ref: str, trade: Trade) -> bool:
        """Error 100 means the gateway never accepted the order: it goes back to the head
        of the queue, once, in its original place among any others sent back. A second
        refusal, or any other error, is final: nothing else is ever sent twice."""
        item = self.tracker.sent.get(ref)
        if item is None or ref in self.tracker.paced or item.modify:
            return False
        self.tracker.paced.add(ref)
        # The gateway's own window must empty before anything is sent again.
        self._pause_until = max(self._pause_until, self.clock() + PACING_PAUSE)
        again = replace(item, order=replace(item.order, orderId=0, permId=0, clientId=0))
        again.order.orderId = self.gateway.next_order_id()
        queue = self.tracker.queue
        index = next((i for i, q in enumerate(queue) if q.seq > item.seq), len(queue))
        queue.insert(index, again)
        self.tracker.queued_now()
        self.ledger.record("requeued", intent_id=item.intent.id, order_ref=ref,
                           symbol=item.spec.display,
                           old_order_id=trade.order.orderId, order_id=again.order.orderId,
                           reason="pacing violation (100): never accepted")
        self.wake()
        return True
