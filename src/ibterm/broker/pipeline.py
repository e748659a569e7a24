"""The one path every order takes: build → validate → guard → trading state → confirm →
throttle → submit → track, each step journaled.

Nothing is sent that the trader did not see confirmed (or, in paper/demo with
confirmations off, that passed every check), nothing waits in the queue through a HALT or
a lost connection (it is withdrawn and reported), and nothing is ever sent twice: every
order carries a unique orderRef derived from its intent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ib_async import Contract, Fill, Order, Position, Trade

from ibterm.broker.checks import MarketView, account_mode_problem, check_intent
from ibterm.broker.contracts import contract_to_instrument
from ibterm.broker.journal import Journal
from ibterm.broker.reconcile import (
    DONE,
    NOT_RECEIVED,
    Difference,
    Discrepancy,
    PositionKey,
    position_changes,
    reconcile,
    settled_message,
)
from ibterm.broker.session import BrokerSession, Notice
from ibterm.broker.throttle import Throttle
from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    Confirmation,
    FillUpdate,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderType,
    OrderUpdate,
    Side,
    TradingState,
)
from ibterm.domain.quote import MarketDataType
from ibterm.domain.ticks import round_in_favour

log = logging.getLogger("ibterm.orders")

ConfirmFn = Callable[[OrderIntent, list[CheckResult]], Awaitable[Confirmation]]
# What a journal write raises when the disk is full, the file is gone or read-only, or the
# connection is closed: sqlite3 wraps most, the OS the rest.
JOURNAL_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)


class _Unjournaled(Exception):
    """A row that must precede sending could not be written: nothing is sent."""


class Outcome(StrEnum):
    QUEUED = "queued"  # accepted: in the throttle queue or already sent
    REJECTED = "rejected"  # a check blocked it, or an override was missing
    CANCELLED = "cancelled"  # the trader said no


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    checks: list[CheckResult]
    message: str = ""


@dataclass(slots=True)
class _Queued:
    intent: OrderIntent
    leg: int
    contract: Contract
    order: Order
    spec: OrderSpec
    modify: bool = False
    seq: int = 0  # place in the original queue order


# A finished order stays tracked this long (seconds) for its late news: the last
# execution and commission reports can follow the final status. Then it is forgotten, so
# a long session does not grow with every order it ever sent (the journal keeps them).
RETAIN_FINISHED = 120.0
# After a reconnect the executions are asked for from this long before the link went:
# one in flight when it dropped is among them, whatever the clocks' skew.
EXECUTIONS_MARGIN = dt.timedelta(minutes=5)
PACING_VIOLATION = 100
PACING_PAUSE = 1.1  # seconds: IB counts messages over one second


@dataclass(slots=True)
class PipelineUpdate:
    orders: list[OrderUpdate] = field(default_factory=list)
    fills: list[FillUpdate] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    state: TradingState | None = None
    queued: int | None = None
    reconciliation: list[Discrepancy] | None = None
    commissions: dict[str, float] = field(default_factory=dict)  # exec_id -> commission


class OrderPipeline:
    def __init__(self, session: BrokerSession, journal: Journal, confirm: ConfirmFn,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.session = session
        self.profile = session.profile
        self.journal = journal
        self.confirm = confirm
        self.clock = clock
        self.sleep = sleep
        self.state = TradingState.ACTIVE
        self.throttle = Throttle(self.profile.order_rate, clock)
        self.queue: deque[_Queued] = deque()
        self.trades: dict[str, Trade] = {}  # order_ref -> Trade
        self._specs: dict[str, tuple[OrderIntent, OrderSpec]] = {}
        self._intent_times: deque[float] = deque()
        self._wakeup = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._update = PipelineUpdate(state=self.state, queued=0)
        self._reconcile_task: asyncio.Task[list[Discrepancy]] | None = None
        self._last_checks: list[CheckResult] = []
        self._seq = 0
        self._sent: dict[str, _Queued] = {}  # order_ref -> what was last sent for it
        self._paced: set[str] = set()  # order refs already sent again after error 100
        self._finished: deque[tuple[float, str]] = deque()  # (when, order_ref), oldest first
        self._kill_pending = False  # the kill switch's global cancel, not sent yet
        self._link_lost_at: dt.datetime | None = None  # wall clock, for the executions asked
        self._pause_until = 0.0  # after a pacing violation the gateway gets a breather
        self._journal_error: str | None = None  # set while the journal cannot be written
        self._flatten_watch: dict[str, asyncio.Task[None]] = {}  # order_ref -> its re-pricer
        # Positions as last seen while connected (ib_async forgets them on a disconnect),
        # and the snapshot taken when the link went, to report what moved while away.
        self._positions: dict[PositionKey, tuple[float, str]] = {}
        self._away_positions: dict[PositionKey, tuple[float, str]] | None = None
        self._current_positions()
        session.status_listeners.append(self._on_connection)
        session.ib.commissionReportEvent += self._on_commission
        session.ib.positionEvent += self._on_position
        if session.connected:
            self._warn_account_mode()

    # --- the UI's view ---------------------------------------------------------------
    def drain(self) -> PipelineUpdate:
        self._forget_finished()
        update, self._update = self._update, PipelineUpdate()
        return update

    def _forget_finished(self) -> None:
        cutoff = self.clock() - RETAIN_FINISHED
        while self._finished and self._finished[0][0] < cutoff:
            _, ref = self._finished.popleft()
            trade = self.trades.get(ref)
            if (trade is not None and not trade.isDone()) or any(
                    q.order.orderRef == ref for q in self.queue):
                continue  # sent again (pacing) or re-attached: still ours to track
            if trade is not None:
                trade.statusEvent -= self._on_status
                trade.fillEvent -= self._on_fill
            for tracked in (self.trades, self._specs, self._sent):
                tracked.pop(ref, None)
            self._paced.discard(ref)

    @property
    def tracked(self) -> int:
        """Orders the pipeline still tracks (working, queued or recently finished)."""
        return len(self._specs)

    def _notice(self, level: str, message: str) -> None:
        self._update.notices.append(Notice(level, message))

    # --- the journal: protective actions never wait for it, new orders need it ----------
    def _record(self, kind: str, *, sent: str = "", **data: Any) -> bool:
        """Journal what has happened or was already sent. Never raises: a full disk must
        not stop a cancel, a kill switch or a HALT from being reported. A row that cannot
        be written goes to the log instead (ERROR, with its content), the trader is told
        once, and trading HALTs because no new order could be journaled either. `sent`
        names a protective action that reached the gateway: the trader is always told
        that it was sent, and that the journal does not have it."""
        try:
            self.journal.record(kind, **data)
        except JOURNAL_ERRORS as exc:
            log.error("journal row NOT written (%s): %s %s", exc, kind, data)
            if sent:
                self._notice("error", f"{sent} was sent to the gateway, but the journal at "
                                      f"{self.journal.path} cannot record it: {exc}")
            self._journal_down(exc)
            return False
        if self._journal_error is not None:
            log.warning("the journal at %s can be written again", self.journal.path)
            self._journal_error = None
        return True

    def _record_before(self, intent: OrderIntent, kind: str, **data: Any) -> None:
        """Journal a step that must precede sending a new order: fail closed, raising
        _Unjournaled, so nothing is sent that the journal does not know of. Flatten is
        protective: it goes out whether or not its rows can be written."""
        if intent.kind is IntentKind.FLATTEN:
            self._record(kind, **data)
            return
        try:
            self.journal.record(kind, **data)
        except JOURNAL_ERRORS as exc:
            log.error("journal row NOT written (%s): %s %s; nothing sent", exc, kind, data)
            self._journal_down(exc)
            raise _Unjournaled(f"not sent: the journal at {self.journal.path} cannot be "
                               f"written ({exc}); trading is HALTED") from exc
        self._journal_error = None

    def _journal_down(self, exc: BaseException) -> None:
        """The journal cannot be written: said once per outage, and trading HALTs (the
        queue withdrawn) until the trader resumes with a journal that works again."""
        message = f"journal cannot be written: {exc}"
        if self._journal_error is None:
            self._journal_error = message
            log.critical("the journal at %s cannot be written: %s", self.journal.path, exc)
            self._notice("error", f"The journal at {self.journal.path} cannot be written "
                                  f"({exc}): no new orders are sent; cancels, the kill switch "
                                  "and flatten still work and are logged instead")
        self._set_state(TradingState.HALTED, message, keep_flatten=True)

    def _set_state(self, state: TradingState, reason: str, recorded: bool = False,
                   keep_flatten: bool = False) -> None:
        if state is self.state:
            return
        previous = self.state
        log.warning("trading state %s -> %s: %s", previous, state, reason)
        self.state = state
        self._update.state = state
        self._notice("warning" if state is not TradingState.ACTIVE else "info",
                     f"Trading {state.value}: {reason}")
        if state is TradingState.HALTED:
            self._withdraw(f"trading HALTED ({reason})", keep_flatten)
        # Recorded after it took effect: a HALT never waits for the journal.
        if not recorded:
            self._record("state", state=state.value, previous=previous.value, reason=reason)

    def resume(self) -> None:
        """Back to ACTIVE, by an explicit action of the trader (who also calls off a kill
        switch's global cancel still waiting for the link). Refused while the journal
        cannot be written: new orders could not be journaled."""
        if self.state is TradingState.ACTIVE:
            self._kill_pending = False
            return
        reason = "resumed by the trader"
        try:
            self.journal.record("state", state=TradingState.ACTIVE.value,
                                previous=self.state.value, reason=reason)
        except JOURNAL_ERRORS as exc:
            log.error("resume refused: the journal at %s cannot be written: %s",
                      self.journal.path, exc)
            self._notice("error", f"Not resumed: the journal at {self.journal.path} still "
                                  f"cannot be written ({exc}); trading stays HALTED")
            return
        self._journal_error = None
        self._kill_pending = False
        self._set_state(TradingState.ACTIVE, reason, recorded=True)

    # --- checks ----------------------------------------------------------------------
    def market_view(self) -> MarketView:
        s = self.session
        return MarketView(quotes=s.quotes(), positions=s.position_map(), now=s.clock(),
                          stale_after=s.profile.stale_after, state=self.state, mode=s.mode,
                          accounts=self._accounts(), profile_name=s.name)

    def _accounts(self) -> tuple[str, ...]:
        """Every account an order could reach: the login's managed accounts, and the
        session's own (which a profile can name)."""
        s = self.session
        found = list(s.managed_accounts())
        if s.account and s.account not in found:
            found.append(s.account)
        return tuple(found)

    def check(self, intent: OrderIntent) -> list[CheckResult]:
        return check_intent(intent, self.profile, self.market_view())

    def _daily_loss_guard(self) -> None:
        limit = self.profile.limits.daily_loss_limit
        pnl = self.session.daily_pnl()
        if (limit is not None and pnl is not None and pnl < -limit
                and self.state is TradingState.ACTIVE):
            self._set_state(TradingState.REDUCING, f"daily P&L {pnl:,.0f} is past the "
                                                   f"loss limit of {limit:,.0f}")

    def _flood_guard(self) -> None:
        now = self.clock()
        self._intent_times.append(now)
        window = self.profile.flood_window
        while self._intent_times and now - self._intent_times[0] > window:
            self._intent_times.popleft()
        if len(self._intent_times) > self.profile.flood_intents:
            self._set_state(TradingState.HALTED, f"more than {self.profile.flood_intents} "
                                                 f"orders in {window:g}s")

    # --- submit ----------------------------------------------------------------------
    async def submit(self, intent: OrderIntent) -> SubmitResult:
        self._last_checks = []
        try:
            approved = await self._approve(intent)
            if isinstance(approved, SubmitResult):
                return approved
            self._enqueue(approved)
        except _Unjournaled as exc:
            return SubmitResult(Outcome.REJECTED, self._last_checks, str(exc))
        return SubmitResult(Outcome.QUEUED, self._last_checks)

    async def modify(self, order_ref: str, spec: OrderSpec) -> SubmitResult:
        """Re-place a working order with new quantity, prices or TIF (same orderId), through
        the same checks and confirmation as a new one."""
        trade = self.trades.get(order_ref)
        if trade is None or trade.isDone() or order_ref not in self._specs:
            return SubmitResult(Outcome.REJECTED, [], "that order is not working")
        original, old = self._specs[order_ref]
        if spec.instrument.con_id != old.instrument.con_id or spec.side is not old.side:
            return SubmitResult(Outcome.REJECTED, [], "a modify keeps the instrument and side: "
                                                      "cancel and place a new order")
        intent = OrderIntent((spec,), source="modify", id=original.id, replaces=old)
        self._last_checks = []
        try:
            approved = await self._approve(intent)
            if isinstance(approved, SubmitResult):
                return approved
            self._record_before(intent, "modify", intent_id=original.id, order_ref=order_ref,
                                symbol=approved.legs[0].instrument.display,
                                order=approved.legs[0].describe())
        except _Unjournaled as exc:
            return SubmitResult(Outcome.REJECTED, self._last_checks, str(exc))
        [new] = approved.legs
        order = trade.order
        fresh = to_ib_order(new, order_ref)
        for name in ("totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "outsideRth",
                     "trailingPercent", "trailStopPrice"):
            setattr(order, name, getattr(fresh, name))
        order.account = new.account or order.account
        self._specs[order_ref] = (original, new)
        leg = order_ref.rsplit("-", 1)[-1]
        self.queue.append(_Queued(original, int(leg) if leg.isdigit() else 0, trade.contract,
                                  order, new, modify=True))
        self._update.queued = len(self.queue)
        self._ensure_sender()
        self._wakeup.set()
        return SubmitResult(Outcome.QUEUED, self._last_checks)

    async def _approve(self, intent: OrderIntent) -> OrderIntent | SubmitResult:
        """Journal, check, confirm: the intent to send (ticks rounded if overridden), or
        the result that says why nothing is sent."""
        symbol = intent.legs[0].instrument.display if intent.legs else ""
        self._record_before(intent, "intent", intent_id=intent.id, symbol=symbol,
                            type=intent.kind.value, source=intent.source,
                            description=intent.describe())
        self._flood_guard()
        self._daily_loss_guard()
        checks = self.check(intent)
        self._last_checks = checks
        for c in checks:
            self._record_before(intent, "check", intent_id=intent.id, symbol=symbol,
                                check=c.check, severity=c.severity.value, message=c.message,
                                leg=c.leg)
        blocks = [c for c in checks if c.severity is CheckSeverity.BLOCK]
        if blocks:
            return self._reject(intent, checks, "; ".join(c.message for c in blocks))
        breaches = {c.check for c in checks if c.severity is CheckSeverity.BREACH}
        must_confirm = (self.session.mode is TradingMode.LIVE or self.profile.confirm_orders
                        or bool(breaches))
        overrides: frozenset[str] = frozenset()
        if must_confirm:
            confirmation = await self.confirm(intent, checks)
            self._record_before(intent, "confirm", intent_id=intent.id, symbol=symbol,
                                approved=confirmation.approved,
                                overrides=sorted(confirmation.overrides))
            if not confirmation.approved:
                return SubmitResult(Outcome.CANCELLED, checks, "not confirmed")
            missing = breaches - confirmation.overrides
            if missing:
                return self._reject(intent, checks, "needs an override: "
                                    + ", ".join(sorted(missing)))
            overrides = confirmation.overrides & breaches
            for name in sorted(overrides):
                self._record_before(intent, "override", intent_id=intent.id, symbol=symbol,
                                    check=name)
        # The world may have moved while the dialog was open: state and connection rule.
        if self.state is TradingState.HALTED and intent.kind is not IntentKind.FLATTEN:
            return self._reject(intent, checks, "trading HALTED while confirming")
        if not self.session.connected:
            return self._reject(intent, checks, "not connected to the gateway: nothing was "
                                                "sent or queued")
        if "tick" in overrides:
            intent = _rounded(intent)
        return intent

    def _reject(self, intent: OrderIntent, checks: list[CheckResult], why: str) -> SubmitResult:
        self._record("rejected", intent_id=intent.id,
                     symbol=intent.legs[0].instrument.display if intent.legs else "",
                     reason=why)
        return SubmitResult(Outcome.REJECTED, checks, why)

    def _enqueue(self, intent: OrderIntent) -> None:
        ib = self.session.ib
        parent_id = 0
        oca_group = f"ibterm-{intent.id}" if intent.kind is IntentKind.OCA else ""
        last = len(intent.legs) - 1
        items: list[_Queued] = []
        for i, spec in enumerate(intent.legs):
            order = to_ib_order(spec, intent.order_ref(i))
            order.orderId = ib.client.getReqId()
            order.account = spec.account or self.session.account
            if intent.kind is IntentKind.BRACKET:
                # The gateway holds the legs until the last one arrives with transmit=True.
                order.transmit = i == last
                if i == 0:
                    parent_id = order.orderId
                else:
                    order.parentId = parent_id
            if oca_group:
                order.ocaGroup, order.ocaType = oca_group, intent.oca_type
            contract = Contract(conId=spec.instrument.con_id, exchange=spec.instrument.exchange)
            self._seq += 1
            items.append(_Queued(intent, i, contract, order, spec, seq=self._seq))
        # Every leg journaled before any is queued: a journal failing half-way through a
        # bracket queues none of it.
        for item in items:
            self._record_before(intent, "queued", intent_id=intent.id,
                                order_ref=item.order.orderRef,
                                symbol=item.spec.instrument.display,
                                order=item.spec.describe(), order_id=item.order.orderId)
        for item in items:
            self.queue.append(item)
            self._specs[item.order.orderRef] = (intent, item.spec)
            self._publish(item.order.orderRef, "Queued", 0.0, item.spec.quantity, 0.0,
                          item.order.orderId)
        self._update.queued = len(self.queue)
        self._ensure_sender()
        self._wakeup.set()

    def _ensure_sender(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    async def _send_loop(self) -> None:
        while True:
            if not self.queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            wait = max(self.throttle.wait_time(), self._pause_until - self.clock())
            if wait > 0:
                await self.sleep(wait)
                continue
            if self.state is TradingState.HALTED and self.queue[0].intent.kind is not \
                    IntentKind.FLATTEN:
                self._withdraw("trading HALTED")
                continue
            if not self.session.connected:
                self._withdraw("connection to the gateway lost")
                continue
            item = self.queue.popleft()
            self._update.queued = len(self.queue)
            self._send(item)

    def _send(self, item: _Queued) -> None:
        ref = item.order.orderRef
        flatten = item.intent.kind is IntentKind.FLATTEN
        priced = {"priced_from": self._price_flatten(item)} if flatten else {}
        # Journaled before it leaves the process: a crash after this line loses nothing.
        try:
            self._record_before(item.intent, "submitted", intent_id=item.intent.id,
                                order_ref=ref, symbol=item.spec.instrument.display,
                                order_id=item.order.orderId, order=item.spec.describe(),
                                transmit=item.order.transmit, parent_id=item.order.parentId,
                                **priced)
        except _Unjournaled as exc:
            # Back at the head, so it is withdrawn and reported with the rest of the queue.
            self.queue.appendleft(item)
            self._withdraw(str(exc).removeprefix("not sent: "), keep_flatten=True)
            return
        self.throttle.record()
        self._sent[ref] = item
        trade = self.session.ib.placeOrder(item.contract, item.order)
        if self.trades.get(ref) is not trade:  # a modify re-uses its Trade and handlers
            self.trades[ref] = trade
            trade.statusEvent += self._on_status
            trade.fillEvent += self._on_fill
        self._on_status(trade)
        if flatten and not item.modify and ref not in self._flatten_watch:
            self._flatten_watch[ref] = asyncio.get_running_loop().create_task(
                self._watch_flatten(ref))

    def _withdraw(self, reason: str, keep_flatten: bool = False) -> None:
        """Take every queued message back, unsent, and say so. `keep_flatten` leaves
        flatten's legs queued: a journal that cannot be written withdraws new orders, never
        the protective ones."""
        # Taken out of the queue first: a journal row failing below HALTs, and the HALT's
        # own withdrawal must find nothing left to withdraw twice.
        items = list(self.queue)
        self.queue.clear()
        gone = []
        for item in items:
            if keep_flatten and item.intent.kind is IntentKind.FLATTEN:
                self.queue.append(item)
            else:
                gone.append(item)
        self._update.queued = len(self.queue)
        if not gone:
            return
        for item in gone:
            ref = item.order.orderRef
            self._record("withdrawn", intent_id=item.intent.id, order_ref=ref,
                         symbol=item.spec.instrument.display, reason=reason,
                         modify=item.modify)
            trade = self.trades.get(ref)
            if item.modify and trade is not None:
                # The order itself still works at the gateway; only the change was not sent.
                st = trade.orderStatus
                self._publish(ref, st.status, st.filled, st.remaining, st.avgFillPrice,
                              item.order.orderId, f"modification not sent: {reason}")
            else:
                self._publish(ref, "NotSent", 0.0, item.spec.quantity, 0.0,
                              item.order.orderId, f"not sent: {reason}")
                self._finished.append((self.clock(), ref))
        self._notice("error", f"{len(gone)} queued order message(s) withdrawn, not sent: "
                              f"{reason}")

    def _on_position(self, pos: Position) -> None:
        key = (pos.account, pos.contract.conId)
        self._positions[key] = (pos.position, pos.contract.localSymbol or pos.contract.symbol)

    def _on_connection(self, status: ConnectionStatus) -> None:
        if status.state in (ConnectionState.LOST, ConnectionState.RECONNECTING,
                            ConnectionState.DISCONNECTED):
            if self._away_positions is None:
                self._away_positions = dict(self._positions)
            if self._link_lost_at is None:
                self._link_lost_at = dt.datetime.now(dt.UTC)
            self._withdraw(f"connection {status.state.value}")
            self._record("connection", state=status.state.value, detail=status.detail)
        elif status.state is ConnectionState.CONNECTED:
            if self._kill_pending and self.state is TradingState.HALTED:
                self._send_kill()
            self._record("connection", state=status.state.value, detail=status.detail)
            self._warn_account_mode()
            self._reconcile_task = asyncio.get_running_loop().create_task(self.reconcile())

    async def reconcile(self) -> list[Discrepancy]:
        """Journal vs gateway; re-attach to our orders that are still working."""
        try:
            since = (self._link_lost_at - EXECUTIONS_MARGIN
                     if self._link_lost_at is not None else None)
            found, open_trades = await reconcile(self.session.ib, self.journal, since)
            self._link_lost_at = None
        except (TimeoutError, ConnectionError) as exc:
            self._notice("error", f"Reconciliation failed: {exc!r}")
            return []
        except JOURNAL_ERRORS as exc:
            self._notice("error", f"Reconciliation failed: the journal at {self.journal.path} "
                                  f"cannot be read or written ({exc})")
            self._journal_down(exc)
            return []
        if self._away_positions is not None:
            for d in position_changes(self._away_positions, self._current_positions()):
                found.append(d)
                self._record("reconcile", symbol=d.symbol, difference=d.kind.value,
                             detail=d.detail)
            self._away_positions = None
        for trade in self.session.ib.openTrades():
            ref = trade.order.orderRef
            if ref.startswith("ibterm-") and ref not in self._specs:
                self._adopt(trade)
            if ref in self._specs and self.trades.get(ref) is not trade:
                old = self.trades.get(ref)
                if old is not None:  # the Trade of a connection that is gone
                    old.statusEvent -= self._on_status
                    old.fillEvent -= self._on_fill
                self.trades[ref] = trade
                trade.statusEvent += self._on_status
                trade.fillEvent += self._on_fill
                self._on_status(trade)
        self._settle(found)
        self._update.reconciliation = found
        if found:
            self._notice("warning", f"Reconciliation found {len(found)} difference(s) with "
                                    "the gateway: see the Reconciliation pane")
        return found

    def _warn_account_mode(self) -> None:
        """Said at once on connecting, not at the first order: the `account-mode` check
        blocks every order while the login does not fit the profile's mode."""
        mismatch = account_mode_problem(self.session.mode, self._accounts(), self.session.name)
        if mismatch:
            log.error("account mode: %s", mismatch)
            self._notice("error", mismatch[:1].upper() + mismatch[1:])

    def _current_positions(self) -> dict[PositionKey, tuple[float, str]]:
        self._positions = {
            (p.account, p.contract.conId): (p.position,
                                            p.contract.localSymbol or p.contract.symbol)
            for p in self.session.ib.positions()}
        return self._positions

    def _settle(self, found: list[Discrepancy]) -> None:
        """Show in the blotter what the reconciliation journaled: the final status of an
        order that ended while the app was away, the fills it missed."""
        for d in found:
            if d.order_ref not in self._specs:
                continue  # journaled by the reconciliation; not in this run's blotter
            intent, spec = self._specs[d.order_ref]
            if d.kind is Difference.MISSED_FILL:
                self._update.fills.append(FillUpdate(d.order_ref, d.exec_id, spec.instrument,
                                                     spec.side, d.shares, d.price, None, ""))
                continue
            if d.kind is not Difference.GONE:
                continue
            trade = self.trades.get(d.order_ref)
            self._publish(d.order_ref, d.now or NOT_RECEIVED, d.shares, 0.0, d.price,
                          trade.order.orderId if trade is not None else 0, settled_message(d))
            self._finished.append((self.clock(), d.order_ref))
            if trade is not None:  # a dead Trade from before the reconnect: no more news
                trade.statusEvent -= self._on_status
                trade.fillEvent -= self._on_fill
                del self.trades[d.order_ref]

    def _adopt(self, trade: Trade) -> None:
        """Track an order of ours that outlived a previous run of the app."""
        o = trade.order
        try:
            spec = OrderSpec(
                contract_to_instrument(trade.contract), Side(o.action), o.totalQuantity,
                OrderType(o.orderType),
                limit=o.lmtPrice if o.orderType in ("LMT", "STP LMT") else None,
                stop=o.auxPrice if o.orderType in ("STP", "STP LMT") else None,
                account=o.account)
        except ValueError:
            return  # an order type the app does not model: reported, not tracked
        parts = o.orderRef.split("-")
        intent_id = parts[1] if len(parts) == 3 and parts[0] == "ibterm" else o.orderRef
        self._specs[o.orderRef] = (OrderIntent((spec,), source="gateway", id=intent_id), spec)

    # --- tracking --------------------------------------------------------------------
    def _publish(self, ref: str, status: str, filled: float, remaining: float, avg: float,
                 order_id: int, message: str = "") -> None:
        intent, spec = self._specs[ref]
        self._update.orders.append(OrderUpdate(
            order_ref=ref, intent_id=intent.id, instrument=spec.instrument, side=spec.side,
            quantity=filled + remaining, order_type=spec.order_type, limit=spec.limit,
            stop=spec.stop, status=status, filled=filled, remaining=remaining, avg_price=avg,
            order_id=order_id, message=message, kind=intent.kind, leg=_leg_of(ref)))

    def _on_status(self, trade: Trade) -> None:
        ref = trade.order.orderRef
        if ref not in self._specs:
            return
        st = trade.orderStatus
        message = trade.log[-1].message if trade.log and trade.log[-1].message else ""
        intent, spec = self._specs[ref]
        self._record("status", intent_id=intent.id, order_ref=ref,
                     symbol=spec.instrument.display, status=st.status, filled=st.filled,
                     remaining=st.remaining, avg_price=st.avgFillPrice, message=message)
        remaining = st.remaining if st.remaining or st.filled else trade.order.totalQuantity
        self._publish(ref, st.status, st.filled, remaining, st.avgFillPrice,
                      trade.order.orderId, message)
        if (st.status == "Cancelled" and trade.log and trade.log[-1].errorCode == PACING_VIOLATION
                and self._requeue_after_pacing(ref, trade)):
            return
        if st.status in DONE:
            self._finished.append((self.clock(), ref))
        if st.status in ("Cancelled", "Inactive") and message:
            self._notice("warning", f"{spec.describe()}: {message}")

    def _requeue_after_pacing(self, ref: str, trade: Trade) -> bool:
        """Error 100 means the gateway never accepted the order: it goes back to the head
        of the queue, once, in its original place among any others sent back. A second
        refusal, or any other error, is final: nothing else is ever sent twice."""
        item = self._sent.get(ref)
        if item is None or ref in self._paced or item.modify:
            return False
        self._paced.add(ref)
        # The gateway's own window must empty before anything is sent again.
        self._pause_until = max(self._pause_until, self.clock() + PACING_PAUSE)
        again = replace(item, order=replace(item.order, orderId=0, permId=0, clientId=0))
        again.order.orderId = self.session.ib.client.getReqId()
        index = next((i for i, q in enumerate(self.queue) if q.seq > item.seq),
                     len(self.queue))
        self.queue.insert(index, again)
        self._update.queued = len(self.queue)
        self._record("requeued", intent_id=item.intent.id, order_ref=ref,
                     symbol=item.spec.instrument.display,
                     old_order_id=trade.order.orderId, order_id=again.order.orderId,
                     reason="pacing violation (100): never accepted")
        self._ensure_sender()
        self._wakeup.set()
        return True

    def _on_fill(self, trade: Trade, fill: Fill) -> None:
        ref = trade.order.orderRef
        if ref not in self._specs:
            return
        intent, spec = self._specs[ref]
        ex = fill.execution
        self._record("fill", intent_id=intent.id, order_ref=ref,
                     symbol=spec.instrument.display, exec_id=ex.execId, side=ex.side,
                     shares=ex.shares, price=ex.price, time=str(ex.time))
        self._update.fills.append(FillUpdate(ref, ex.execId, spec.instrument, spec.side,
                                             ex.shares, ex.price, None, str(ex.time)))

    def _on_commission(self, trade: Trade, fill: Fill, report: object) -> None:
        ref = trade.order.orderRef
        if ref in self._specs:
            intent, spec = self._specs[ref]
            commission = getattr(report, "commission", None)
            self._record("commission", intent_id=intent.id, order_ref=ref,
                         symbol=spec.instrument.display, exec_id=fill.execution.execId,
                         commission=commission)
            if commission is not None:
                self._update.commissions[fill.execution.execId] = commission

    # --- cancels, kill switch, flatten ----------------------------------------------
    def cancel(self, order_ref: str) -> bool:
        trade = self.trades.get(order_ref)
        if trade is None or trade.isDone():
            return False
        intent, spec = self._specs[order_ref]
        if self.profile.read_only:
            # Read-only sends nothing that changes the account, a cancel included.
            self._notice("error", f"{spec.describe()}: not cancelled: this profile is "
                                  "read-only and sends nothing to the account (cancel it in "
                                  "TWS, or use a trading profile)")
            return False
        if not self.session.connected:
            self._notice("error", f"{spec.describe()}: not connected to the gateway, the "
                                  "cancel was not sent (the order may still be working)")
            return False
        # Sent first, journaled after: a journal that cannot be written never keeps a
        # cancel from the gateway.
        try:
            self.session.ib.cancelOrder(trade.order)
        except ConnectionError:  # the link went between the check and the send
            self._record("cancel-failed", intent_id=intent.id, order_ref=order_ref,
                         symbol=spec.instrument.display, reason="not connected")
            self._notice("error", f"{spec.describe()}: the link dropped, the cancel was "
                                  "not sent (the order may still be working)")
            return False
        self._record("cancel", sent=f"The cancel of {spec.describe()}", intent_id=intent.id,
                     order_ref=order_ref, symbol=spec.instrument.display)
        return True

    def cancel_instrument(self, con_id: int) -> int:
        refs = [ref for ref, (_, spec) in self._specs.items()
                if spec.instrument.con_id == con_id]
        return sum(self.cancel(ref) for ref in refs)

    def cancel_all(self) -> bool:
        """IB's global cancel without the kill switch's HALT: every open order of this
        login is cancelled (whichever client placed it) and the queue is withdrawn, so
        nothing queued goes out after it; the trading state stays as it was. Refused on a
        read-only profile and without a link, each with a notice. Journaled after it is
        sent, never gated by the journal."""
        if self.profile.read_only:
            self._notice("error", "Cancel all: not sent: this profile is read-only and sends "
                                  "nothing to the account (cancel in TWS, or use a trading "
                                  "profile)")
            return False
        if not self.session.connected:
            self._notice("error", "Cancel all: not connected to the gateway, nothing was "
                                  "cancelled (orders may still be working)")
            return False
        self._withdraw("cancel all")
        try:
            self.session.ib.reqGlobalCancel()
        except ConnectionError:  # the link went between the check and the send
            self._notice("error", "Cancel all: the link dropped, the global cancel was not "
                                  "sent (orders may still be working)")
            self._record("cancel-failed", scope="global", reason="not connected")
            return False
        self._record("cancel", sent="The global cancel (cancel all)", scope="global",
                     reason="cancel all")
        self._notice("info", f"Global cancel sent: every open order of this login is being "
                             f"cancelled; trading stays {self.state.value}")
        return True

    def kill(self) -> None:
        """The kill switch: HALTED (withdrawing the queue), then cancel everything working.
        Without a link the global cancel waits for the reconnect, and the trader is told
        that nothing was cancelled yet. A read-only profile only halts this app: IB's
        global cancel would cancel the account's orders, which read-only never touches."""
        if self.profile.read_only:
            self._set_state(TradingState.HALTED, "kill switch (read-only: nothing cancelled)")
            self._notice("warning", "Kill switch: this app is HALTED, but no cancel was sent "
                                    "because the profile is read-only: orders working at the "
                                    "gateway keep working (cancel them in TWS)")
            return
        self._set_state(TradingState.HALTED, "kill switch")
        self._kill_pending = True
        self._send_kill()

    def _send_kill(self) -> None:
        if not self._kill_pending:
            return
        try:
            if not self.session.connected:
                raise ConnectionError("not connected")
            self.session.ib.reqGlobalCancel()
        except ConnectionError:
            self._notice("error", "Kill switch: not connected to the gateway, working orders "
                                  "were NOT cancelled; the global cancel goes out as soon as "
                                  "the link is back")
            self._record("cancel-failed", scope="global", reason="not connected")
            return
        self._kill_pending = False
        self._record("cancel", sent="The kill switch's global cancel", scope="global",
                     reason="kill switch")

    def flatten_intent(self) -> OrderIntent | None:
        """Reducing marketable limits for every position (None when flat). Their limits
        are what the dialog shows; each leg is priced again from the touch when it is
        sent, and re-priced while it works (see _watch_flatten)."""
        legs = []
        for pos in self.session.positions():
            if not pos.quantity:
                continue
            side = Side.SELL if pos.quantity > 0 else Side.BUY
            spec = OrderSpec(pos.instrument, side, abs(pos.quantity), OrderType.LMT,
                             account=pos.account)
            limit, _ = self._flatten_limit(spec)
            if limit is None:
                continue  # no live quote, no market price: nothing to price it from
            legs.append(replace(spec, limit=limit))
        if not legs:
            return None
        return OrderIntent(tuple(legs), kind=IntentKind.FLATTEN, source="flatten")

    def _flatten_limit(self, spec: OrderSpec) -> tuple[float | None, str]:
        """A flatten leg's limit now, and what it was priced from: `through_ticks` through
        the live touch (below the bid to sell, above the ask to buy), rounded to the tick
        in the marketable direction; the position's market price only without a usable
        live quote; the leg's own limit if there is neither."""
        inst = spec.instrument
        s = self.session
        quote = s.quote(inst.con_id)
        touch: float | None = None
        source = ""
        if (quote is not None and quote.data_type is MarketDataType.LIVE and not quote.flag
                and not quote.is_stale(s.clock(), s.profile.stale_after)):
            touch = quote.bid if spec.side is Side.SELL else quote.ask
            source = "bid" if spec.side is Side.SELL else "ask"
        if not touch:
            touch = next((p.market_price for p in s.positions()
                          if p.instrument.con_id == inst.con_id and p.market_price
                          and (not spec.account or p.account == spec.account)), None)
            source = "the position's market price (no live quote)"
        if not touch:
            return spec.limit, "the price shown when flatten was asked (no quote, no mark)"
        through = self.profile.flatten.through_ticks * inst.min_tick * spec.side.sign
        limit = round_in_favour(max(touch + through, inst.min_tick), inst.min_tick,
                                spec.side.opposite)
        return limit, source

    def _price_flatten(self, item: _Queued) -> str:
        """Price a flatten leg as it leaves, from the touch of this moment: a price fixed
        when F10 was pressed goes stale while the trader reads the dialog."""
        limit, source = self._flatten_limit(item.spec)
        if limit is None:
            return source
        item.order.lmtPrice = limit
        item.spec = replace(item.spec, limit=limit)
        ref = item.order.orderRef
        if ref in self._specs:
            self._specs[ref] = (self._specs[ref][0], item.spec)
        if source not in ("bid", "ask"):
            self._notice("warning", f"{item.spec.describe()}: flatten priced from {source}")
        return source

    async def _watch_flatten(self, ref: str) -> None:
        """Every `reprice_after` seconds an unfilled flatten leg is priced again from the
        then-current touch (a modify, same orderId), at most `max_reprices` times; one
        still working after that is reported, never left silently."""
        try:
            await self._reprice_flatten(ref)
        finally:
            self._flatten_watch.pop(ref, None)

    async def _reprice_flatten(self, ref: str) -> None:
        settings = self.profile.flatten
        rounds = 0
        while True:
            await self.sleep(settings.reprice_after)
            trade = self.trades.get(ref)
            if trade is None or trade.isDone() or ref not in self._specs:
                return
            intent, spec = self._specs[ref]
            if rounds >= settings.max_reprices:
                self._report_flatten_working(ref, trade, spec, rounds)
                return
            rounds += 1
            if any(q.order.orderRef == ref for q in self.queue):
                continue  # the last change has not left yet
            if not self.session.connected:
                continue  # the withdrawn-queue rules apply; tried again next round
            limit, source = self._flatten_limit(spec)
            if limit is None or limit == trade.order.lmtPrice:
                continue
            self._record("reprice", intent_id=intent.id, order_ref=ref,
                         symbol=spec.instrument.display, old_limit=trade.order.lmtPrice,
                         limit=limit, priced_from=source, round=rounds)
            leg = ref.rsplit("-", 1)[-1]
            self.queue.append(_Queued(intent, int(leg) if leg.isdigit() else 0,
                                      trade.contract, trade.order, replace(spec, limit=limit),
                                      modify=True))
            self._update.queued = len(self.queue)
            self._ensure_sender()
            self._wakeup.set()

    def _report_flatten_working(self, ref: str, trade: Trade, spec: OrderSpec,
                                rounds: int) -> None:
        remaining = trade.orderStatus.remaining or spec.quantity
        price = _price_text(trade.order.lmtPrice, spec.instrument.min_tick)
        message = (f"{spec.instrument.display} flatten {spec.side.value} {remaining:g} still "
                   f"working after {rounds} re-pricing{'s' if rounds != 1 else ''} at {price}")
        log.warning("%s", message)
        self._notice("warning", f"{message}: the position is not flat yet")
        intent, _ = self._specs[ref]
        self._record("flatten-working", intent_id=intent.id, order_ref=ref,
                     symbol=spec.instrument.display, remaining=remaining,
                     limit=trade.order.lmtPrice, reprices=rounds, message=message)


def _price_text(price: float, tick: float) -> str:
    """A price with the tick's decimals and thousands separators: 6,027.00 for ES."""
    exponent = decimal.Decimal(str(tick)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 2
    return f"{price:,.{decimals}f}"


def to_ib_order(spec: OrderSpec, order_ref: str) -> Order:
    order = Order(action=spec.side.value, totalQuantity=spec.quantity,
                  orderType=spec.order_type.value, tif=spec.tif.value,
                  outsideRth=spec.outside_rth, orderRef=order_ref, account=spec.account)
    if spec.limit is not None:
        order.lmtPrice = spec.limit
    if spec.order_type is OrderType.TRAIL:
        if spec.trail_percent is not None:
            order.trailingPercent = spec.trail_percent
        else:
            order.auxPrice = spec.trail_amount
        if spec.stop is not None:
            order.trailStopPrice = spec.stop
    elif spec.stop is not None:
        order.auxPrice = spec.stop
    return order


def _leg_of(order_ref: str) -> int:
    """The leg number an orderRef carries (`ibterm-<intent>-<leg>`); 0 for others'."""
    leg = order_ref.rsplit("-", 1)[-1]
    return int(leg) if leg.isdigit() else 0


def _rounded(intent: OrderIntent) -> OrderIntent:
    legs = []
    for spec in intent.legs:
        tick = spec.instrument.min_tick
        legs.append(replace(
            spec,
            limit=round_in_favour(spec.limit, tick, spec.side) if spec.limit else spec.limit,
            stop=round_in_favour(spec.stop, tick, spec.side.opposite) if spec.stop else spec.stop,
        ))
    return replace(intent, legs=tuple(legs))
