"""The one path every order takes: build → validate → guard → trading state → confirm →
throttle → submit → track, each step journaled.

Nothing is sent that the trader did not see confirmed (or, in paper/demo with
confirmations off, that passed every check), nothing waits in the queue through a HALT or
a lost connection (it is withdrawn and reported), and nothing is ever sent twice: every
order carries a unique orderRef derived from its intent.

The pipeline is put together here from its parts: approval, the sender, flatten, cancels
and recovery, over the orders it tracks and the ledger of what it journals.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection

from ib_async import Trade

from ibterm.broker.approval import Approval, ConfirmFn, SubmitResult
from ibterm.broker.cancels import Cancels
from ibterm.broker.checks import MarketView
from ibterm.broker.flatten import Flattener
from ibterm.broker.journal import Journal
from ibterm.broker.ledger import Ledger, PipelineUpdate
from ibterm.broker.reconcile import Discrepancy
from ibterm.broker.recovery import Recovery
from ibterm.broker.sender import Sender
from ibterm.broker.session import BrokerSession
from ibterm.broker.tracking import OrderTracker, QueuedOrder
from ibterm.domain.orders import CheckResult, OrderIntent, OrderSpec, OrderUpdate, TradingState


class OrderPipeline:
    def __init__(self, session: BrokerSession, journal: Journal, confirm: ConfirmFn,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.session = session
        self.journal = journal
        # The parts call each other both ways (a HALT withdraws the queue, the queue
        # journals): the later parts are reached through the closures below.
        self._ledger = Ledger(journal, lambda reason, keep: self._sender.withdraw(reason, keep))
        self._tracker = OrderTracker(session.orders, self._ledger, clock,
                                     lambda ref, trade: self._sender.requeue_after_pacing(
                                         ref, trade))
        self._flattener = Flattener(session, self._tracker, self._ledger, sleep,
                                    lambda item: self._sender.enqueue(item))
        self._sender = Sender(session, self._tracker, self._ledger, self._flattener, clock,
                              sleep)
        self._approval = Approval(session, self._tracker, self._ledger, self._sender, confirm,
                                  clock)
        self._cancels = Cancels(session, self._tracker, self._ledger, self._sender)
        self._recovery = Recovery(session, self._tracker, self._ledger, self._sender,
                                  self._cancels)

    # --- the UI's view ---------------------------------------------------------------
    def drain(self) -> PipelineUpdate:
        self._tracker.forget_finished()
        return self._ledger.take_update()

    @property
    def state(self) -> TradingState:
        return self._ledger.state

    @property
    def tracked(self) -> int:
        """Orders the pipeline still tracks (working, queued or recently finished)."""
        return len(self._tracker.specs)

    @property
    def trades(self) -> dict[str, Trade]:
        """order_ref -> its Trade, for the broker layer and its tests."""
        return self._tracker.trades

    @property
    def queue(self) -> deque[QueuedOrder]:
        return self._tracker.queue

    def working_orders(self) -> list[OrderUpdate]:
        """The orders of ours still working at the gateway."""
        return self._tracker.working_orders()

    async def until_done(self, order_refs: Collection[str], timeout: float) -> None:
        """Wait, at most `timeout` seconds, until none of these orders works any more
        (each one cancelled, filled or otherwise final)."""
        await self._tracker.until_done(order_refs, timeout)

    # --- checks and orders -----------------------------------------------------------
    def market_view(self) -> MarketView:
        return self._approval.market_view()

    def check(self, intent: OrderIntent) -> list[CheckResult]:
        return self._approval.check(intent)

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        return await self._approval.submit(intent)

    def working_spec(self, order_ref: str) -> OrderSpec:
        """A working order (keyed by its orderRef, as the pipeline keys them) as it stands
        at the gateway, every field a modify re-sends: TIF, outside RTH, account, type,
        prices, a combination's legs, and `quantity` its TOTAL quantity (filled part
        included, as IB's modify takes it; the blotter has filled and remaining). For
        ours, those adopted after a reconnect, and those this connection sees from
        elsewhere. NotModifiable (broker.working) says why there is none."""
        return self._approval.working_spec(order_ref)

    async def modify(self, order_ref: str, spec: OrderSpec) -> SubmitResult:
        """Re-place a working order with new quantity, prices or TIF (same orderId), through
        the same checks and confirmation as a new one."""
        return await self._approval.modify(order_ref, spec)

    def flatten_intent(self) -> OrderIntent | None:
        return self._flattener.intent()

    # --- cancels, kill switch, trading state -----------------------------------------
    def cancel(self, order_ref: str) -> bool:
        return self._cancels.cancel(order_ref)

    def cancel_instrument(self, con_id: int) -> int:
        return self._cancels.cancel_instrument(con_id)

    def cancel_all(self) -> bool:
        return self._cancels.cancel_all()

    def kill(self) -> None:
        self._cancels.kill()

    def resume(self) -> None:
        """Back to ACTIVE, by an explicit action of the trader (who also calls off a kill
        switch's global cancel still waiting for the link). Refused while the journal
        cannot be written: new orders could not be journaled."""
        if self._ledger.resume():
            self._cancels.kill_pending = False

    def _set_state(self, state: TradingState, reason: str) -> None:
        self._ledger.set_state(state, reason)

    # --- recovery --------------------------------------------------------------------
    async def reconcile(self) -> list[Discrepancy]:
        """Journal vs gateway; re-attach to our orders that are still working."""
        return await self._recovery.reconcile()

    @property
    def _reconcile_task(self) -> asyncio.Task[list[Discrepancy]] | None:
        return self._recovery.task
