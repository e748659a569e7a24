"""The pipeline's journal writes, the trading state they guard, and the update gathered
for the UI. Protective actions never wait for the journal; new orders need it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ibterm.broker.journal import Journal
from ibterm.broker.reconcile import Discrepancy
from ibterm.domain.notice import Notice
from ibterm.domain.orders import (
    FillUpdate,
    IntentKind,
    OrderIntent,
    OrderSpec,
    OrderUpdate,
    TradingState,
)

log = logging.getLogger("ibterm.orders")

# What a journal write raises when the disk is full, the file is gone or read-only, or the
# connection is closed: sqlite3 wraps most, the OS the rest.
JOURNAL_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
# Called when trading HALTs: take the queue back, keeping flatten's legs if told to.
Withdraw = Callable[[str, bool], None]


def legs_data(spec: OrderSpec) -> dict[str, Any]:
    """A combination's legs as its journal rows record them (nothing for other orders):
    each leg's conId, name, what the order does with it and how many, so the journal
    alone tells what was traded."""
    if not spec.combo:
        return {}
    return {"legs": [{"con_id": leg.instrument.con_id, "symbol": leg.instrument.display,
                      "action": spec.leg_side(leg).value, "ratio": leg.ratio,
                      "quantity": spec.leg_quantity(leg)} for leg in spec.combo]}


class Unjournaled(Exception):
    """A row that must precede sending could not be written: nothing is sent."""


@dataclass(slots=True)
class PipelineUpdate:
    orders: list[OrderUpdate] = field(default_factory=list)
    fills: list[FillUpdate] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    state: TradingState | None = None
    queued: int | None = None
    reconciliation: list[Discrepancy] | None = None
    commissions: dict[str, float] = field(default_factory=dict)  # exec_id -> commission


class Ledger:
    def __init__(self, journal: Journal, withdraw: Withdraw) -> None:
        self.journal = journal
        self._withdraw = withdraw
        self.state = TradingState.ACTIVE
        self.update = PipelineUpdate(state=self.state, queued=0)
        self._journal_error: str | None = None  # set while the journal cannot be written

    def take_update(self) -> PipelineUpdate:
        update, self.update = self.update, PipelineUpdate()
        return update

    def notice(self, level: str, message: str) -> None:
        self.update.notices.append(Notice(level, message))

    def record(self, kind: str, *, sent: str = "", **data: Any) -> bool:
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
                self.notice("error", f"{sent} was sent to the gateway, but the journal at "
                                     f"{self.journal.path} cannot record it: {exc}")
            self.journal_down(exc)
            return False
        if self._journal_error is not None:
            log.warning("the journal at %s can be written again", self.journal.path)
            self._journal_error = None
        return True

    def record_before(self, intent: OrderIntent, kind: str, **data: Any) -> None:
        """Journal a step that must precede sending a new order: fail closed, raising
        Unjournaled, so nothing is sent that the journal does not know of. Flatten is
        protective: it goes out whether or not its rows can be written."""
        if intent.kind is IntentKind.FLATTEN:
            self.record(kind, **data)
            return
        try:
            self.journal.record(kind, **data)
        except JOURNAL_ERRORS as exc:
            log.error("journal row NOT written (%s): %s %s; nothing sent", exc, kind, data)
            self.journal_down(exc)
            raise Unjournaled(f"not sent: the journal at {self.journal.path} cannot be "
                              f"written ({exc}); trading is HALTED") from exc
        self._journal_error = None

    def journal_down(self, exc: BaseException) -> None:
        """The journal cannot be written: said once per outage, and trading HALTs (the
        queue withdrawn) until the trader resumes with a journal that works again."""
        message = f"journal cannot be written: {exc}"
        if self._journal_error is None:
            self._journal_error = message
            log.critical("the journal at %s cannot be written: %s", self.journal.path, exc)
            self.notice("error", f"The journal at {self.journal.path} cannot be written "
                                 f"({exc}): no new orders are sent; cancels, the kill switch "
                                 "and flatten still work and are logged instead")
        self.set_state(TradingState.HALTED, message, keep_flatten=True)

    def set_state(self, state: TradingState, reason: str, recorded: bool = False,
                  keep_flatten: bool = False) -> None:
        if state is self.state:
            return
        previous = self.state
        log.warning("trading state %s -> %s: %s", previous, state, reason)
        self.state = state
        self.update.state = state
        self.notice("warning" if state is not TradingState.ACTIVE else "info",
                    f"Trading {state.value}: {reason}")
        if state is TradingState.HALTED:
            self._withdraw(f"trading HALTED ({reason})", keep_flatten)
        # Recorded after it took effect: a HALT never waits for the journal.
        if not recorded:
            self.record("state", state=state.value, previous=previous.value, reason=reason)

    def resume(self) -> bool:
        """Back to ACTIVE, by an explicit action of the trader; False when refused because
        the journal still cannot be written (new orders could not be journaled)."""
        if self.state is TradingState.ACTIVE:
            return True
        reason = "resumed by the trader"
        try:
            self.journal.record("state", state=TradingState.ACTIVE.value,
                                previous=self.state.value, reason=reason)
        except JOURNAL_ERRORS as exc:
            log.error("resume refused: the journal at %s cannot be written: %s",
                      self.journal.path, exc)
            self.notice("error", f"Not resumed: the journal at {self.journal.path} still "
                                 f"cannot be written ({exc}); trading stays HALTED")
            return False
        self._journal_error = None
        self.set_state(TradingState.ACTIVE, reason, recorded=True)
        return True
