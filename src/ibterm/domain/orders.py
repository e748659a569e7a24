"""Orders as the pipeline sees them: intents (one order, a bracket, an OCA group, a
combination order), check results, trading states, and the updates the blotter shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MKT = "MKT"
    LMT = "LMT"
    STP = "STP"
    STP_LMT = "STP LMT"
    TRAIL = "TRAIL"

    @property
    def needs_limit(self) -> bool:
        return self in (OrderType.LMT, OrderType.STP_LMT)

    @property
    def needs_stop(self) -> bool:
        return self in (OrderType.STP, OrderType.STP_LMT)


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


class IntentKind(StrEnum):
    SINGLE = "single"
    BRACKET = "bracket"  # legs: entry, take profit, stop loss
    OCA = "oca"
    FLATTEN = "flatten"


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  # everything allowed
    REDUCING = "REDUCING"  # only orders that reduce a position
    HALTED = "HALTED"  # only cancels and flatten


def named(instrument: Instrument, combo: bool, strategy: str) -> str:
    """An order's name, as the journal's symbol, the blotter and the notices say it: a
    combination by its strategy ("SPY iron condor"; "SPY combo" without one)."""
    if combo:
        return f"{instrument.symbol} {strategy or 'combo'}"
    return instrument.display


@dataclass(frozen=True, slots=True)
class ComboLeg:
    """One leg of a combination (BAG) order: its instrument, what is done with it when
    the combination is bought, and how many of it one combination holds."""

    instrument: Instrument
    action: Side
    ratio: int = 1

    def describe(self) -> str:
        return f"{self.action.value} {self.ratio} {self.instrument.display}"


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order. With `combo` legs it is a combination (BAG) order: `instrument` is then
    the combination's stand-in (see domain.combo), `quantity` counts combinations, and a
    limit is the net price of one in the direction of `side`: bought, positive a debit
    and negative a credit; sold (every leg's action reversed, as IB does), positive a
    credit. `strategy` names a combination for the trader ("iron condor")."""

    instrument: Instrument
    side: Side
    quantity: float
    order_type: OrderType = OrderType.LMT
    limit: float | None = None
    stop: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: bool = False
    account: str = ""
    combo: tuple[ComboLeg, ...] = ()
    strategy: str = ""

    @property
    def signed_quantity(self) -> float:
        return self.quantity * self.side.sign

    @property
    def display(self) -> str:
        """What the order is on, as the journal's symbol and the blotter name it."""
        return named(self.instrument, bool(self.combo), self.strategy)

    @property
    def credit(self) -> bool:
        """Whether a combination's limit is money received: a positive limit sold, a
        negative one bought."""
        if not self.limit:
            return False
        return (self.limit < 0) == (self.side is Side.BUY)

    def leg_side(self, leg: ComboLeg) -> Side:
        """What the order does with a leg: selling a combination reverses every leg."""
        return leg.action if self.side is Side.BUY else leg.action.opposite

    def leg_quantity(self, leg: ComboLeg) -> float:
        return leg.ratio * self.quantity

    def describe(self) -> str:
        """Plain words: 'BUY 100 AAPL LMT 230.50 DAY'; a combination names its legs with
        what the order does with each, 'BUY 1 SPY combo (BUY 1 SPY 20261218 600 C + SELL 1
        SPY 20261218 610 C) LMT limit 4.2 debit DAY'; one sold, 'SELL 1 SPY iron condor
        (BUY 1 … + SELL 1 …) LMT limit 2.39 credit DAY'."""
        parts = [self.side.value, plain(self.quantity), self.display]
        if self.combo:
            parts.append("(" + " + ".join(
                f"{self.leg_side(leg).value} {leg.ratio} {leg.instrument.display}"
                for leg in self.combo) + ")")
        parts.append(self.order_type.value)
        if self.stop is not None:
            parts.append(f"stop {plain(self.stop)}")
        if self.limit is not None:
            parts.append(f"limit {plain(self.limit)}")
            if self.combo:
                parts.append("credit" if self.credit else "debit")
        if self.trail_percent is not None:
            parts.append(f"trail {plain(self.trail_percent)}%")
        elif self.trail_amount is not None:
            parts.append(f"trail {plain(self.trail_amount)}")
        parts.append(self.tif.value)
        if self.outside_rth:
            parts.append("outside RTH")
        return " ".join(parts)


def new_intent_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class OrderIntent:
    legs: tuple[OrderSpec, ...]
    kind: IntentKind = IntentKind.SINGLE
    source: str = "ticket"  # ticket, bracket, macro:<key>, flatten, script
    oca_type: int = 1
    id: str = field(default_factory=new_intent_id)
    # A modification: the working order as it was, so a confirmation can show old -> new.
    replaces: OrderSpec | None = None

    @property
    def is_modify(self) -> bool:
        return self.replaces is not None

    def order_ref(self, leg: int) -> str:
        """The unique orderRef each leg carries to the gateway (idempotency key)."""
        return f"ibterm-{self.id}-{leg}"

    def describe(self) -> str:
        if self.kind is IntentKind.BRACKET:
            entry, take, stop = self.legs
            # A bracket's exits always carry their prices (a take-profit limit, a stop).
            assert take.limit is not None and stop.stop is not None
            return (f"bracket: {entry.describe()}; take profit {plain(take.limit)}; "
                    f"stop loss {plain(stop.stop)}")
        if self.kind is IntentKind.OCA:
            return f"OCA (type {self.oca_type}): " + "; ".join(s.describe() for s in self.legs)
        return "; ".join(s.describe() for s in self.legs)


class CheckSeverity(StrEnum):
    OK = "ok"
    BREACH = "breach"  # blocks unless the trader overrides it in the confirmation
    BLOCK = "block"  # blocks, no override (validation, scope, read-only, trading state)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str  # a stable id: size, value, deviation, ticks, quote, position, …
    severity: CheckSeverity
    message: str
    leg: int = 0

    @property
    def passed(self) -> bool:
        return self.severity is CheckSeverity.OK


@dataclass(frozen=True, slots=True)
class Confirmation:
    approved: bool
    overrides: frozenset[str] = frozenset()  # check ids the trader chose to override


# Statuses after which an order never changes: IB's, and the app's own NotSent (withdrawn
# from the queue) and NotReceived (the gateway never got it; found by reconciliation).
FINAL_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive", "NotSent",
                            "NotReceived"})


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A working or finished order, for the blotter (keyed by order_ref)."""

    order_ref: str
    intent_id: str
    instrument: Instrument
    side: Side
    quantity: float
    order_type: OrderType
    limit: float | None
    stop: float | None
    status: str
    filled: float
    remaining: float
    avg_price: float
    order_id: int = 0
    message: str = ""
    # What the order belongs to, so the blotter can keep a bracket's legs and an OCA
    # group's members together: the intent's kind and this order's leg in it.
    kind: IntentKind = IntentKind.SINGLE
    leg: int = 0
    # A combination order's legs, which the blotter shows under its one row, and its
    # strategy's name ("iron condor"; empty for one adopted or placed elsewhere).
    combo: tuple[ComboLeg, ...] = ()
    strategy: str = ""

    @property
    def display(self) -> str:
        """As the order names it: "SPY iron condor", "SPY combo" for a combination without
        a strategy's name."""
        return named(self.instrument, bool(self.combo), self.strategy)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class FillUpdate:
    order_ref: str
    exec_id: str
    instrument: Instrument
    side: Side
    shares: float
    price: float
    commission: float | None
    time: str
    # What filled as the order names it, when the instrument alone does not: a
    # combination's own execution ("SPY iron condor"); a leg's is its contract.
    name: str = ""

    @property
    def display(self) -> str:
        return self.name or self.instrument.display
