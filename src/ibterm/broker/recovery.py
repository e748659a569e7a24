"""Recovery: what the pipeline does as the link goes and comes back. The queue is
withdrawn when it goes; on every connect the journal is reconciled with the gateway, our
orders still working are followed again, and those of a previous run are adopted."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from ib_async import Trade

from ibterm.broker.cancels import Cancels
from ibterm.broker.checks import account_mode_problem
from ibterm.broker.convert import spec_of_order
from ibterm.broker.ledger import JOURNAL_ERRORS, Ledger
from ibterm.broker.order_gateway import PositionKey, PositionSeen
from ibterm.broker.reconcile import (
    NOT_RECEIVED,
    Difference,
    Discrepancy,
    position_changes,
    reconcile,
    settled_message,
)
from ibterm.broker.sender import Sender
from ibterm.broker.session import BrokerSession
from ibterm.broker.tracking import OrderTracker
from ibterm.broker.working import NotModifiable, spec_at_broker
from ibterm.domain.connection import ConnectionState, ConnectionStatus
from ibterm.domain.orders import FillUpdate, OrderIntent, TradingState

log = logging.getLogger("ibterm.orders")

# After a reconnect the executions are asked for from this long before the link went:
# one in flight when it dropped is among them, whatever the clocks' skew.
EXECUTIONS_MARGIN = dt.timedelta(minutes=5)


class Recovery:
    def __init__(self, session: BrokerSession, tracker: OrderTracker, ledger: Ledger,
                 sender: Sender, cancels: Cancels) -> None:
        self.session = session
        self.gateway = session.orders
        self.tracker = tracker
        self.ledger = ledger
        self.sender = sender
        self.cancels = cancels
        self.task: asyncio.Task[list[Discrepancy]] | None = None  # the last reconciliation
        self._link_lost_at: dt.datetime | None = None  # wall clock, for the executions asked
        # Positions as last seen while connected (ib_async forgets them on a disconnect),
        # and the snapshot taken when the link went, to report what moved while away.
        self._positions: dict[PositionKey, PositionSeen] = {}
        self._away_positions: dict[PositionKey, PositionSeen] | None = None
        self._current_positions()
        session.status_listeners.append(self._on_connection)
        self.gateway.on_position(self._on_position)
        if session.connected:
            self._warn_account_mode()

    def _on_position(self, key: PositionKey, seen: PositionSeen) -> None:
        self._positions[key] = seen

    def _current_positions(self) -> dict[PositionKey, PositionSeen]:
        self._positions = self.gateway.positions()
        return self._positions

    def _on_connection(self, status: ConnectionStatus) -> None:
        if status.state in (ConnectionState.LOST, ConnectionState.RECONNECTING,
                            ConnectionState.DISCONNECTED):
            if self._away_positions is None:
                self._away_positions = dict(self._positions)
            if self._link_lost_at is None:
                self._link_lost_at = dt.datetime.now(dt.UTC)
            self.sender.withdraw(f"connection {status.state.value}")
            self.ledger.record("connection", state=status.state.value, detail=status.detail)
        elif status.state is ConnectionState.CONNECTED:
            if self.cancels.kill_pending and self.ledger.state is TradingState.HALTED:
                self.cancels.send_kill()
            self.ledger.record("connection", state=status.state.value, detail=status.detail)
            self._warn_account_mode()
            self.task = asyncio.get_running_loop().create_task(self.reconcile())

    async def reconcile(self) -> list[Discrepancy]:
        """Journal vs gateway; re-attach to our orders that are still working."""
        ledger, tracker = self.ledger, self.tracker
        try:
            since = (self._link_lost_at - EXECUTIONS_MARGIN
                     if self._link_lost_at is not None else None)
            found, _ = await reconcile(self.gateway, ledger.journal, since)
            self._link_lost_at = None
        except (TimeoutError, ConnectionError) as exc:
            ledger.notice("error", f"Reconciliation failed: {exc!r}")
            return []
        except JOURNAL_ERRORS as exc:
            ledger.notice("error", f"Reconciliation failed: the journal at "
                                   f"{ledger.journal.path} cannot be read or written ({exc})")
            ledger.journal_down(exc)
            return []
        if self._away_positions is not None:
            for d in position_changes(self._away_positions, self._current_positions()):
                found.append(d)
                ledger.record("reconcile", symbol=d.symbol, difference=d.kind.value,
                              detail=d.detail)
            self._away_positions = None
        for trade in self.gateway.open_trades():
            ref = trade.order.orderRef
            if ref.startswith("ibterm-") and ref not in tracker.specs:
                self._adopt(trade)
            if ref in tracker.specs and tracker.trades.get(ref) is not trade:
                old = tracker.trades.get(ref)
                if old is not None:  # the Trade of a connection that is gone
                    tracker.unfollow(old)
                tracker.follow(ref, trade)
                tracker.on_status(trade)
        self._settle(found)
        ledger.update.reconciliation = found
        if found:
            ledger.notice("warning", f"Reconciliation found {len(found)} difference(s) with "
                                     "the gateway: see the Reconciliation pane")
        return found

    def _warn_account_mode(self) -> None:
        """Said at once on connecting, not at the first order: the `account-mode` check
        blocks every order while the login does not fit the profile's mode."""
        s = self.session
        mismatch = account_mode_problem(s.mode, s.reachable_accounts(), s.name)
        if mismatch:
            log.error("account mode: %s", mismatch)
            self.ledger.notice("error", mismatch[:1].upper() + mismatch[1:])

    def _settle(self, found: list[Discrepancy]) -> None:
        """Show in the blotter what the reconciliation journaled: the final status of an
        order that ended while the app was away, the fills it missed."""
        tracker = self.tracker
        for d in found:
            if d.order_ref not in tracker.specs:
                continue  # journaled by the reconciliation; not in this run's blotter
            intent, spec = tracker.specs[d.order_ref]
            if d.kind is Difference.MISSED_FILL:
                self.ledger.update.fills.append(FillUpdate(
                    d.order_ref, d.exec_id, spec.instrument, spec.side, d.shares, d.price,
                    None, "", spec.display if spec.combo else ""))
                continue
            if d.kind is not Difference.GONE:
                continue
            trade = tracker.trades.get(d.order_ref)
            tracker.publish(d.order_ref, d.now or NOT_RECEIVED, d.shares, 0.0, d.price,
                            trade.order.orderId if trade is not None else 0,
                            settled_message(d))
            tracker.finished.append((tracker.clock(), d.order_ref))
            if trade is not None:  # a dead Trade from before the reconnect: no more news
                tracker.unfollow(trade)
                del tracker.trades[d.order_ref]

    def _adopt(self, trade: Trade) -> None:
        """Track an order of ours that outlived a previous run of the app."""
        o = trade.order
        known = self.session.instruments
        try:
            # With its time in force and outside-RTH flag, so it is described as it works.
            spec = spec_at_broker(trade.contract, o, known)
        except NotModifiable:
            try:  # a GTD order, say: still followed and cancellable, never modified
                spec = spec_of_order(trade.contract, o, known)
            except ValueError:
                return  # an order type the app does not model: reported, not tracked
        parts = o.orderRef.split("-")
        intent_id = parts[1] if len(parts) == 3 and parts[0] == "ibterm" else o.orderRef
        self.tracker.specs[o.orderRef] = (OrderIntent((spec,), source="gateway", id=intent_id),
                                          spec)
