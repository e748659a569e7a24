"""Option strategies: the textbook templates as legs placed on an underlying's chain, the
adjustments the builder makes to a leg (a strike a step, an expiry, a ratio), and what a
strategy can make or lose at expiry.

Legs here are plans (what, which expiry and strike), not instruments: the broker resolves
a plan to its contract. A template puts its legs on the strikes nearest the money and its
widths on the listed strikes nearest the asked distance.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from ibterm.domain.greeks import OptionChain
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import ComboLeg, Side


@dataclass(frozen=True, slots=True)
class LegPlan:
    """One leg to be: `right` None is the underlying itself (a covered call's stock),
    whose ratio counts shares."""

    action: Side
    right: Right | None
    expiry: str = ""
    strike: float = 0.0
    ratio: int = 1


class Template(StrEnum):
    VERTICAL = "vertical"
    STRADDLE = "straddle"
    STRANGLE = "strangle"
    IRON_CONDOR = "iron condor"
    IRON_BUTTERFLY = "iron butterfly"
    BUTTERFLY = "butterfly"
    CALENDAR = "calendar"
    DIAGONAL = "diagonal"
    COVERED_CALL = "covered call"
    COLLAR = "collar"
    RATIO_SPREAD = "ratio spread"


# A covered call or a collar holds one option's worth of the underlying.
SHARES_PER_OPTION = 100


# A template starts on the first expiry at least this far away: the nearest is often one
# expiring today, all but worthless, its quotes one-sided.
MIN_DAYS = 7


def default_expiry(chain: OptionChain, today: dt.date, min_days: int = MIN_DAYS) -> str:
    """The first listed expiry `min_days` or more after `today` (else the last)."""
    for expiry in chain.expiries:
        try:
            day = dt.datetime.strptime(expiry[:8], "%Y%m%d").date()
        except ValueError:
            continue
        if (day - today).days >= min_days:
            return expiry
    return chain.expiries[-1]


def nearest(values: Sequence[float], target: float) -> float:
    """The listed value nearest the target (the lower one on a tie)."""
    return min(values, key=lambda v: (abs(v - target), v))


def _strike(chain: OptionChain, target: float) -> float:
    return nearest(chain.strikes, target)


def template_legs(template: Template, chain: OptionChain, spot: float, width: float,
                  expiry: str = "") -> list[LegPlan]:
    """A template's legs: centred on the strike nearest `spot`, its other strikes the
    listed ones nearest `width` away, on `expiry` (default: the first listed); a calendar
    or diagonal buys the next expiry. ValueError when the chain cannot hold it."""
    if not chain.strikes or not chain.expiries:
        raise ValueError("the chain lists no options")
    front = expiry or chain.expiries[0]
    if front not in chain.expiries:
        raise ValueError(f"no options expire on {front}")
    atm = _strike(chain, spot)
    up, down = _strike(chain, atm + width), _strike(chain, atm - width)
    up2, down2 = _strike(chain, atm + 2 * width), _strike(chain, atm - 2 * width)
    buy, sell, call, put = Side.BUY, Side.SELL, Right.CALL, Right.PUT

    def leg(action: Side, right: Right | None, strike: float, ratio: int = 1,
            on: str = front) -> LegPlan:
        return LegPlan(action, right, on if right else "", strike if right else 0.0, ratio)

    if template in (Template.CALENDAR, Template.DIAGONAL):
        later = [e for e in chain.expiries if e > front]
        if not later:
            raise ValueError(f"a {template} needs an expiry after {front}")
        back = later[0]
        if template is Template.CALENDAR:
            legs = [leg(sell, call, atm), leg(buy, call, atm, on=back)]
        else:
            legs = [leg(sell, call, up), leg(buy, call, atm, on=back)]
    else:
        legs = {
            Template.VERTICAL: [leg(buy, call, atm), leg(sell, call, up)],
            Template.STRADDLE: [leg(buy, call, atm), leg(buy, put, atm)],
            Template.STRANGLE: [leg(buy, put, down), leg(buy, call, up)],
            Template.IRON_CONDOR: [leg(buy, put, down2), leg(sell, put, down),
                                   leg(sell, call, up), leg(buy, call, up2)],
            Template.IRON_BUTTERFLY: [leg(buy, put, down), leg(sell, put, atm),
                                      leg(sell, call, atm), leg(buy, call, up)],
            Template.BUTTERFLY: [leg(buy, call, down), leg(sell, call, atm, 2),
                                 leg(buy, call, up)],
            Template.COVERED_CALL: [leg(buy, None, 0.0, SHARES_PER_OPTION),
                                    leg(sell, call, up)],
            Template.COLLAR: [leg(buy, None, 0.0, SHARES_PER_OPTION), leg(buy, put, down),
                              leg(sell, call, up)],
            Template.RATIO_SPREAD: [leg(buy, call, atm), leg(sell, call, up, 2)],
        }[template]
    options = [(p.right, p.expiry, p.strike) for p in legs if p.right is not None]
    if len(set(options)) < len(options):
        raise ValueError(f"the chain's strikes are too few for a {template} {width:g} wide")
    return legs


def plan_of(leg: ComboLeg) -> LegPlan:
    inst = leg.instrument
    if inst.right is None:
        return LegPlan(leg.action, None, ratio=leg.ratio)
    return LegPlan(leg.action, inst.right, inst.expiry, inst.strike, leg.ratio)


def shifted(plan: LegPlan, chain: OptionChain, strikes: int = 0,
            expiries: int = 0) -> LegPlan | None:
    """The leg `strikes` listed strikes higher and `expiries` listed expiries later
    (negative: lower, earlier); None past the chain's end or for a stock leg."""
    if plan.right is None:
        return None
    new = plan
    if strikes:
        if plan.strike not in chain.strikes:
            return None
        i = chain.strikes.index(plan.strike) + strikes
        if not 0 <= i < len(chain.strikes):
            return None
        new = replace(new, strike=chain.strikes[i])
    if expiries:
        if plan.expiry not in chain.expiries:
            return None
        i = chain.expiries.index(plan.expiry) + expiries
        if not 0 <= i < len(chain.expiries):
            return None
        new = replace(new, expiry=chain.expiries[i])
    return new


def with_ratio(leg: ComboLeg, step: int) -> ComboLeg:
    """The leg's ratio a step up or down, never under 1."""
    return replace(leg, ratio=max(1, leg.ratio + step))


def flipped(leg: ComboLeg) -> ComboLeg:
    return replace(leg, action=leg.action.opposite)


@dataclass(frozen=True, slots=True)
class ExpiryFigures:
    """What the strategy makes or loses at expiry, in money for the quantity: None for an
    unbounded profit or loss."""

    max_profit: float | None
    max_loss: float | None  # positive: the most that can be lost
    breakevens: tuple[float, ...]


def _units(leg: ComboLeg, quantity: float) -> float:
    """Signed units of the underlying's price one leg holds for `quantity` combinations."""
    inst = leg.instrument
    sign = 1.0 if leg.action is Side.BUY else -1.0
    multiplier = inst.multiplier if inst.sec_type is not SecType.STK else 1.0
    return sign * leg.ratio * multiplier * quantity


def _value(legs: Sequence[ComboLeg], quantity: float, price: float) -> float:
    total = 0.0
    for leg in legs:
        inst = leg.instrument
        if inst.right is Right.CALL:
            intrinsic = max(price - inst.strike, 0.0)
        elif inst.right is Right.PUT:
            intrinsic = max(inst.strike - price, 0.0)
        else:
            intrinsic = price
        total += _units(leg, quantity) * intrinsic
    return total


def single_expiry(legs: Sequence[ComboLeg]) -> bool:
    """Whether every option leg expires together: only then is the payoff at expiry one
    line of the underlying's price (a calendar's back leg still has time value)."""
    return len({leg.instrument.expiry for leg in legs if leg.instrument.right}) <= 1


def expiry_figures(legs: Sequence[ComboLeg], net_price: float, quantity: float,
                   multiplier: float) -> ExpiryFigures | None:
    """Max profit, max loss and breakevens at expiry for `quantity` combinations bought at
    `net_price` each (positive a debit, negative a credit; times `multiplier`, the
    combination's). The payoff is piecewise linear with kinks at the strikes, so it is
    read at 0, at each strike, and from its slope past the highest. None when the legs
    expire on different days."""
    if not legs or not single_expiry(legs):
        return None
    cost = net_price * multiplier * quantity
    strikes = sorted({leg.instrument.strike for leg in legs if leg.instrument.right})
    points = [0.0, *strikes]

    def pnl(price: float) -> float:
        return _value(legs, quantity, price) - cost

    values = [pnl(p) for p in points]
    top = points[-1]
    slope = pnl(top + 1.0) - values[-1]
    best, worst = max(values), min(values)
    max_profit = None if slope > 1e-9 else best
    max_loss = None if slope < -1e-9 else -worst
    breakevens: list[float] = []
    for (a, va), (b, vb) in zip(zip(points, values, strict=True),
                                zip(points[1:], values[1:], strict=True), strict=False):
        if va == 0.0 and a > 0.0:
            breakevens.append(a)
        elif va * vb < 0.0:
            breakevens.append(a + (b - a) * va / (va - vb))
    if values[-1] == 0.0 and top > 0.0:
        breakevens.append(top)
    elif abs(slope) > 1e-9 and values[-1] * slope < 0.0:
        breakevens.append(top - values[-1] / slope)
    return ExpiryFigures(_round(max_profit), _round(None if max_loss is None
                                                    else max(max_loss, 0.0)),
                         tuple(sorted({round(b, 4) for b in breakevens})))


def _round(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 2) + 0.0


def combo_greeks(legs: Sequence[ComboLeg], quantity: float,
                 per_leg: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    """The whole combination's greeks from each leg's per-unit greeks (a stock leg's
    delta is 1): summed over legs x ratio x quantity x multiplier, signed by the action.
    None when a leg's greeks are unknown."""
    total: dict[str, float] = {}
    for leg, greeks in zip(legs, per_leg, strict=True):
        if greeks is None:
            return None
        units = _units(leg, quantity)
        for name, value in greeks.items():
            total[name] = total.get(name, 0.0) + units * value
    return total


def net_limit(instrument: Instrument, price: float) -> float:
    """A net price on the combination's tick (negative: a credit)."""
    tick = instrument.min_tick or 0.01
    return round(round(price / tick) * tick, 10)
