"""Combination (BAG) orders: the stand-in instrument a combination is ordered as, what
makes a set of legs unfit to be one, and the combination's market built from its legs'
quotes."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.numbers import plain
from ibterm.domain.orders import ComboLeg, Side
from ibterm.domain.quote import Quote


def combo_con_id(legs: Sequence[ComboLeg]) -> int:
    """An id for a combination of legs, the same in every run: negative, so it is never a
    real conId (IB gives combinations none of their own until they are ordered). Orders
    on the same legs share it, so cancelling "every order for this instrument" from a
    combination's row cancels the orders on that combination."""
    key = ";".join(f"{leg.instrument.con_id}:{leg.action.value}:{leg.ratio}" for leg in legs)
    return -(zlib.crc32(key.encode()) or 1)


def _leg_multiplier(leg: ComboLeg) -> float:
    # A stock's multiplier is one share whatever a lookup left in the field.
    inst = leg.instrument
    return 1.0 if inst.sec_type is SecType.STK else (inst.multiplier or 1.0)


def combo_multiplier(legs: Sequence[ComboLeg]) -> float:
    """What one point of a combination's net price is worth per unit: its option legs'
    multiplier (100), or 1 for stocks alone. A stock-and-option combination (a buy-write:
    100 shares to 1 call) is priced per share, as a buy-write's net debit is (stock price
    less premium), so one unit's cost is the net price x 100, as an option's is."""
    return max((_leg_multiplier(leg) for leg in legs), default=1.0)


def leg_weight(leg: ComboLeg, multiplier: float) -> float:
    """What one unit of a leg's price adds to the combination's net price (per unit of
    the combination, before the ratio): 1 for a leg of the combination's multiplier,
    1/100 a share of a stock-and-option combination."""
    return _leg_multiplier(leg) / multiplier


def combo_instrument(legs: Sequence[ComboLeg]) -> Instrument:
    """The stand-in a combination order names as its instrument: the legs' underlying
    symbol and currency, the multiplier its net price is quoted in (combo_multiplier) and
    the security type of a leg of that multiplier (a buy-write is an option combination);
    the finest of their ticks (IB prices an option combination in the options'
    increment)."""
    multiplier = combo_multiplier(legs)
    first = legs[0].instrument
    main = next((leg.instrument for leg in legs if _leg_multiplier(leg) == multiplier), first)
    return Instrument(
        con_id=combo_con_id(legs), symbol=first.symbol, sec_type=main.sec_type,
        exchange="SMART", currency=first.currency, multiplier=multiplier,
        min_tick=min(leg.instrument.min_tick for leg in legs),
        long_name=" + ".join(leg.describe() for leg in legs))


def combo_problem(legs: Sequence[ComboLeg]) -> str:
    """Why these legs cannot be one combination order ("" when they can). IB combines
    legs of one underlying and currency, and stock with its options on SMART (a
    buy-write, a collar); the legs other than stock share one multiplier, so the net
    price per unit means one thing (value = |net price| x multiplier x quantity)."""
    if len(legs) < 2:
        return "a combination needs two legs or more"
    if any(leg.ratio < 1 for leg in legs):
        return "every leg's ratio is a whole number of at least 1"
    con_ids = [leg.instrument.con_id for leg in legs]
    if len(set(con_ids)) != len(con_ids):
        return "a contract appears in two legs"
    first = legs[0].instrument
    for leg in legs[1:]:
        inst = leg.instrument
        if inst.symbol != first.symbol or inst.currency != first.currency:
            return (f"legs on {first.symbol} ({first.currency}) and {inst.symbol} "
                    f"({inst.currency}): a combination has one underlying and currency")
    multipliers = sorted({inst.multiplier for inst in (leg.instrument for leg in legs)
                          if inst.sec_type is not SecType.STK})
    if len(multipliers) > 1:
        return (f"legs with multipliers {plain(multipliers[0])} and "
                f"{plain(multipliers[-1])}: a combination's legs share one (stock aside)")
    return ""


@dataclass(frozen=True, slots=True)
class ComboMarket:
    """A combination's market from its legs' quotes, per combination bought: `ask` what
    buying one costs at the legs' touch (the natural price: bought legs at their ask,
    sold legs at their bid), `bid` what selling one brings. Negative: a credit."""

    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def half_width(self) -> float:
        return (self.ask - self.bid) / 2.0

    def natural(self, side: Side) -> float:
        """The net price that trades at once: the ask to buy, the bid to sell."""
        return self.ask if side is Side.BUY else self.bid

    def reversed(self) -> ComboMarket:
        """The market of the same legs each the other way round: what sells this one."""
        return ComboMarket(bid=-self.ask, ask=-self.bid)


def legs_for(legs: Sequence[ComboLeg], side: Side) -> tuple[ComboLeg, ...]:
    """The BAG's legs that do what `legs` say when the combination is ordered `side`: as
    they are to buy it; each reversed to sell it (IB applies a sold BAG's legs the other
    way round), so a credit is sold at a positive price."""
    if side is Side.BUY:
        return tuple(legs)
    return tuple(ComboLeg(leg.instrument, leg.action.opposite, leg.ratio) for leg in legs)


def combo_market(legs: Sequence[ComboLeg], quotes: Mapping[int, Quote]) -> ComboMarket | None:
    """The combination's market, or None when a leg has no two-sided quote: each leg's
    price x its ratio x its weight (leg_weight: a buy-write's 100 shares add one share's
    price, its call one premium)."""
    multiplier = combo_multiplier(legs)
    bid = ask = 0.0
    for leg in legs:
        q = quotes.get(leg.instrument.con_id)
        if q is None or q.bid is None or q.ask is None:
            return None
        units = leg.ratio * leg_weight(leg, multiplier)
        if leg.action is Side.BUY:
            bid, ask = bid + units * q.bid, ask + units * q.ask
        else:
            bid, ask = bid - units * q.ask, ask - units * q.bid
    # Rounded: sums of prices on a tick carry float dust (5.2 - 1.0 = 4.200000000000001).
    return ComboMarket(bid=round(bid, 10), ask=round(ask, 10))
