"""Cancels and the kill switch: sent first and journaled after, so a journal that
cannot be written never keeps a cancel from the gateway."""

from __future__ import annotations

from ibterm.broker.ledger import Ledger
from ibterm.broker.sender import Sender
from ibterm.broker.session import BrokerSession
from ibterm.broker.tracking import OrderTracker
from ibterm.domain.orders import TradingState


class Cancels:
    def __init__(self, session: BrokerSession, tracker: OrderTracker, ledger: Ledger,
                 sender: Sender) -> None:
        self.session = session
        self.profile = session.profile
        self.gateway = session.orders
        self.tracker = tracker
        self.ledger = ledger
        self.sender = sender
        self.kill_pending = False  # the kill switch's global cancel, not sent yet

    def cancel(self, order_ref: str) -> bool:
        trade = self.tracker.working(order_ref)
        if trade is None:
            return False
        intent, spec = self.tracker.specs[order_ref]
        if self.profile.read_only:
            # Read-only sends nothing that changes the account, a cancel included.
            self.ledger.notice("error", f"{spec.describe()}: not cancelled: this profile is "
                                        "read-only and sends nothing to the account (cancel "
                                        "it in TWS, or use a trading profile)")
            return False
        if not self.session.connected:
            self.ledger.notice("error", f"{spec.describe()}: not connected to the gateway, "
                                        "the cancel was not sent (the order may still be "
                                        "working)")
            return False
        try:
            self.gateway.cancel(trade.order)
        except ConnectionError:  # the link went between the check and the send
            self.ledger.record("cancel-failed", intent_id=intent.id, order_ref=order_ref,
                               symbol=spec.display, reason="not connected")
            self.ledger.notice("error", f"{spec.describe()}: the link dropped, the cancel was "
                                        "not sent (the order may still be working)")
            return False
        self.ledger.record("cancel", sent=f"The cancel of {spec.describe()}",
                           intent_id=intent.id, order_ref=order_ref, symbol=spec.display)
        return True

    def cancel_instrument(self, con_id: int) -> int:
        """Cancel every working order on the instrument: those that trade it in a
        combination too, and for a combination's own id those on the same legs."""
        refs = [ref for ref, (_, spec) in self.tracker.specs.items()
                if spec.instrument.con_id == con_id
                or any(leg.instrument.con_id == con_id for leg in spec.combo)]
        return sum(self.cancel(ref) for ref in refs)

    def cancel_all(self) -> bool:
        """IB's global cancel without the kill switch's HALT: every open order of this
        login is cancelled (whichever client placed it) and the queue is withdrawn, so
        nothing queued goes out after it; the trading state stays as it was. Refused on a
        read-only profile and without a link, each with a notice."""
        if self.profile.read_only:
            self.ledger.notice("error", "Cancel all: not sent: this profile is read-only and "
                                        "sends nothing to the account (cancel in TWS, or use "
                                        "a trading profile)")
            return False
        if not self.session.connected:
            self.ledger.notice("error", "Cancel all: not connected to the gateway, nothing "
                                        "was cancelled (orders may still be working)")
            return False
        self.sender.withdraw("cancel all")
        try:
            self.gateway.global_cancel()
        except ConnectionError:  # the link went between the check and the send
            self.ledger.notice("error", "Cancel all: the link dropped, the global cancel was "
                                        "not sent (orders may still be working)")
            self.ledger.record("cancel-failed", scope="global", reason="not connected")
            return False
        self.ledger.record("cancel", sent="The global cancel (cancel all)", scope="global",
                           reason="cancel all")
        self.ledger.notice("info", f"Global cancel sent: every open order of this login is "
                                   f"being cancelled; trading stays {self.ledger.state.value}")
        return True

    def kill(self) -> None:
        """The kill switch: HALTED (withdrawing the queue), then cancel everything working.
        Without a link the global cancel waits for the reconnect, and the trader is told
        that nothing was cancelled yet. A read-only profile only halts this app: IB's
        global cancel would cancel the account's orders, which read-only never touches."""
        if self.profile.read_only:
            self.ledger.set_state(TradingState.HALTED,
                                  "kill switch (read-only: nothing cancelled)")
            self.ledger.notice("warning", "Kill switch: this app is HALTED, but no cancel was "
                                          "sent because the profile is read-only: orders "
                                          "working at the gateway keep working (cancel them "
                                          "in TWS)")
            return
        self.ledger.set_state(TradingState.HALTED, "kill switch")
        self.kill_pending = True
        self.send_kill()

    def send_kill(self) -> None:
        """The kill switch's global cancel, if it still waits to be sent."""
        if not self.kill_pending:
            return
        try:
            if not self.session.connected:
                raise ConnectionError("not connected")
            self.gateway.global_cancel()
        except ConnectionError:
            self.ledger.notice("error", "Kill switch: not connected to the gateway, working "
                                        "orders were NOT cancelled; the global cancel goes out "
                                        "as soon as the link is back")
            self.ledger.record("cancel-failed", scope="global", reason="not connected")
            return
        self.kill_pending = False
        self.ledger.record("cancel", sent="The kill switch's global cancel", scope="global",
                           reason="kill switch")
