"""Combination (BAG) orders: the stand-in instrument a combination is ordered as, what
makes a set of legs unfit to be one, and the combination's market built from its legs'
quotes."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ibterm.domain.instrument import Instrument
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


def combo_instrument(legs: Sequence[ComboLeg]) -> Instrument:
    """The stand-in a combination order names as its instrument: the legs' underlying
    symbol, currency and multiplier; the finest of their ticks (IB prices an option
    combination in the options' increment)."""
    first = legs[0].instrument
    return Instrument(
        con_id=combo_con_id(legs), symbol=first.symbol, sec_type=first.sec_type,
        exchange="SMART", currency=first.currency, multiplier=first.multiplier,
        min_tick=min(leg.instrument.min_tick for leg in legs),
        long_name=" + ".join(leg.describe() for leg in legs))


def combo_problem(legs: Sequence[ComboLeg]) -> str:
    """Why these legs cannot be one combination order ("" when they can). IB combines
    legs of one underlying and currency; one multiplier keeps the net price per unit
    meaningful (value = |net price| x multiplier x quantity)."""
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
        if inst.multiplier != first.multiplier:
            return (f"legs with multipliers {plain(first.multiplier)} and "
                    f"{plain(inst.multiplier)}: a combination's legs share one")
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


def combo_market(legs: Sequence[ComboLeg], quotes: Mapping[int, Quote]) -> ComboMarket | None:
    """The combination's market, or None when a leg has no two-sided quote."""
    bid = ask = 0.0
    for leg in legs:
        q = quotes.get(leg.instrument.con_id)
        if q is None or q.bid is None or q.ask is None:
            return None
        if leg.action is Side.BUY:
            bid, ask = bid + leg.ratio * q.bid, ask + leg.ratio * q.ask
        else:
            bid, ask = bid - leg.ratio * q.ask, ask - leg.ratio * q.bid
    # Rounded: sums of prices on a tick carry float dust (5.2 - 1.0 = 4.200000000000001).
    return ComboMarket(bid=round(bid, 10), ask=round(ask, 10))
