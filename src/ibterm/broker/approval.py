"""Approval: an intent is journaled, checked, confirmed by the trader when it must be,
and built into IB orders queued for the sender; or it is refused, saying why."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from ibterm.broker.checks import MarketView, check_intent
from ibterm.broker.convert import spec_contract, to_ib_order
from ibterm.broker.ledger import Ledger, Unjournaled, legs_data
from ibterm.broker.sender import MODIFIED_FIELDS, Sender
from ibterm.broker.session import BrokerSession
from ibterm.broker.tracking import OrderTracker, QueuedOrder, leg_of
from ibterm.broker.working import NotModifiable, spec_at_broker
from ibterm.domain.connection import TradingMode
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    Confirmation,
    IntentKind,
    OrderIntent,
    OrderSpec,
    TradingState,
)
from ibterm.domain.ticks import round_in_favour

ConfirmFn = Callable[[OrderIntent, list[CheckResult]], Awaitable[Confirmation]]


class Outcome(StrEnum):
    QUEUED = "queued"  # accepted: in the throttle queue or already sent
    REJECTED = "rejected"  # a check blocked it, or an override was missing
    CANCELLED = "cancelled"  # the trader said no


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    checks: list[CheckResult]
    message: str = ""


class Approval:
    def __init__(self, session: BrokerSession, tracker: OrderTracker, ledger: Ledger,
                 sender: Sender, confirm: ConfirmFn, clock: Callable[[], float]) -> None:
        self.session = session
        self.profile = session.profile
        self.tracker = tracker
        self.ledger = ledger
        self.sender = sender
        self.confirm = confirm
        self.clock = clock
        self._intent_times: deque[float] = deque()
        self._last_checks: list[CheckResult] = []
        self._seq = 0

    # --- checks ----------------------------------------------------------------------
    def market_view(self) -> MarketView:
        s = self.session
        return MarketView(quotes=s.quotes(), positions=s.position_map(), now=s.clock(),
                          stale_after=s.profile.stale_after, state=self.ledger.state,
                          mode=s.mode, accounts=s.reachable_accounts(), profile_name=s.name)

    def check(self, intent: OrderIntent) -> list[CheckResult]:
        return check_intent(intent, self.profile, self.market_view())

    def _daily_loss_guard(self) -> None:
        limit = self.profile.limits.daily_loss_limit
        pnl = self.session.daily_pnl()
        if (limit is not None and pnl is not None and pnl < -limit
                and self.ledger.state is TradingState.ACTIVE):
            self.ledger.set_state(TradingState.REDUCING, f"daily P&L {pnl:,.0f} is past the "
                                                         f"loss limit of {limit:,.0f}")

    def _flood_guard(self) -> None:
        now = self.clock()
        self._intent_times.append(now)
        window = self.profile.flood_window
        while self._intent_times and now - self._intent_times[0] > window:
            self._intent_times.popleft()
        if len(self._intent_times) > self.profile.flood_intents:
            self.ledger.set_state(TradingState.HALTED, f"more than {self.profile.flood_intents} "
                                                       f"orders in {window:g}s")

    # --- submit and modify -----------------------------------------------------------
    async def submit(self, intent: OrderIntent) -> SubmitResult:
        self._last_checks = []
        try:
            approved = await self._approve(intent)
            if isinstance(approved, SubmitResult):
                return approved
            self._enqueue(approved)
        except Unjournaled as exc:
            return SubmitResult(Outcome.REJECTED, self._last_checks, str(exc))
        return SubmitResult(Outcome.QUEUED, self._last_checks)

    def working_spec(self, order_ref: str) -> OrderSpec:
        """The working order as it stands at the gateway (see broker.working): ours,
        adopted after a reconnect, or one this connection sees from elsewhere (TWS, by
        its orderRef). NotModifiable says why there is none to start from."""
        trade = self.tracker.working(order_ref)
        if trade is None:
            trade = next((t for t in self.session.orders.open_trades()
                          if t.order.orderRef == order_ref and not t.isDone()), None)
        if trade is None or not order_ref:
            raise NotModifiable("that order is not working")
        tracked = self.tracker.specs.get(order_ref)
        return spec_at_broker(trade.contract, trade.order, self.session.instruments,
                              tracked[1] if tracked is not None else None)

    async def modify(self, order_ref: str, spec: OrderSpec) -> SubmitResult:
        """Re-place a working order with new quantity, prices or TIF (same orderId), through
        the same checks and confirmation as a new one. What the trader did not change is
        as the gateway holds it: `spec` is meant to start from working_spec."""
        try:
            old = self.working_spec(order_ref)
        except NotModifiable as exc:
            return SubmitResult(Outcome.REJECTED, [], str(exc))
        trade = self.tracker.working(order_ref)
        if trade is None or order_ref not in self.tracker.specs:
            # IB lets a client modify only the orders it placed.
            return SubmitResult(Outcome.REJECTED, [], "that order was placed elsewhere (TWS "
                                                      "or another client): modify it there")
        original, _ = self.tracker.specs[order_ref]
        if spec.instrument.con_id != old.instrument.con_id or spec.side is not old.side:
            return SubmitResult(Outcome.REJECTED, [], "a modify keeps the instrument and side: "
                                                      "cancel and place a new order")
        if spec.combo != old.combo:
            return SubmitResult(Outcome.REJECTED, [], "a modify keeps a combination's legs: "
                                                      "cancel and place a new order")
        if spec.account and old.account and spec.account != old.account:
            return SubmitResult(Outcome.REJECTED, [], "a modify keeps the account: cancel "
                                                      "and place a new order")
        # The account, and a combination's strategy name, are the order's own.
        spec = replace(spec, account=old.account, strategy=old.strategy)
        intent = OrderIntent((spec,), source="modify", id=original.id, replaces=old)
        self._last_checks = []
        try:
            approved = await self._approve(intent)
            if isinstance(approved, SubmitResult):
                return approved
            self.ledger.record_before(intent, "modify", intent_id=original.id,
                                      order_ref=order_ref,
                                      symbol=approved.legs[0].display,
                                      order=approved.legs[0].describe(),
                                      **legs_data(approved.legs[0]))
        except Unjournaled as exc:
            return SubmitResult(Outcome.REJECTED, self._last_checks, str(exc))
        [new] = approved.legs
        # A copy: the Trade's own order changes only as the modification leaves (the
        # sender), so one withdrawn unsent leaves the order as the gateway has it.
        order = copy.copy(trade.order)
        fresh = to_ib_order(new, order_ref)
        for name in MODIFIED_FIELDS:
            setattr(order, name, getattr(fresh, name))
        self.sender.enqueue(QueuedOrder(original, leg_of(order_ref), trade.contract, order,
                                        new, modify=True))
        return SubmitResult(Outcome.QUEUED, self._last_checks)

    async def _approve(self, intent: OrderIntent) -> OrderIntent | SubmitResult:
        """Journal, check, confirm: the intent to send (ticks rounded if overridden), or
        the result that says why nothing is sent."""
        record_before = self.ledger.record_before
        symbol = intent.legs[0].display if intent.legs else ""
        record_before(intent, "intent", intent_id=intent.id, symbol=symbol,
                      type=intent.kind.value, source=intent.source,
                      description=intent.describe())
        self._flood_guard()
        self._daily_loss_guard()
        checks = self.check(intent)
        self._last_checks = checks
        for c in checks:
            record_before(intent, "check", intent_id=intent.id, symbol=symbol,
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
            record_before(intent, "confirm", intent_id=intent.id, symbol=symbol,
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
                record_before(intent, "override", intent_id=intent.id, symbol=symbol,
                              check=name)
        # The world may have moved while the dialog was open: state and connection rule.
        if self.ledger.state is TradingState.HALTED and intent.kind is not IntentKind.FLATTEN:
            return self._reject(intent, checks, "trading HALTED while confirming")
        if not self.session.connected:
            return self._reject(intent, checks, "not connected to the gateway: nothing was "
                                                "sent or queued")
        if "tick" in overrides:
            intent = _rounded(intent)
        return intent

    def _reject(self, intent: OrderIntent, checks: list[CheckResult], why: str) -> SubmitResult:
        self.ledger.record("rejected", intent_id=intent.id,
                           symbol=intent.legs[0].display if intent.legs else "",
                           reason=why)
        return SubmitResult(Outcome.REJECTED, checks, why)

    def _enqueue(self, intent: OrderIntent) -> None:
        """The intent's IB orders, each leg journaled, then queued for the sender."""
        parent_id = 0
        oca_group = f"ibterm-{intent.id}" if intent.kind is IntentKind.OCA else ""
        last = len(intent.legs) - 1
        items: list[QueuedOrder] = []
        for i, spec in enumerate(intent.legs):
            order = to_ib_order(spec, intent.order_ref(i))
            order.orderId = self.session.orders.next_order_id()
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
            self._seq += 1
            items.append(QueuedOrder(intent, i, spec_contract(spec), order, spec,
                                     seq=self._seq))
        # Every leg journaled before any is queued: a journal failing half-way through a
        # bracket queues none of it.
        for item in items:
            self.ledger.record_before(intent, "queued", intent_id=intent.id,
                                      order_ref=item.order.orderRef,
                                      symbol=item.spec.display, order=item.spec.describe(),
                                      order_id=item.order.orderId, **legs_data(item.spec))
        for item in items:
            self.tracker.queue.append(item)
            self.tracker.specs[item.order.orderRef] = (intent, item.spec)
            self.tracker.publish(item.order.orderRef, "Queued", 0.0, item.spec.quantity, 0.0,
                                 item.order.orderId)
        self.sender.wake()


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
