"""Combos (BAG contracts): legs checked as IB checks them, and the combo's book made from
its legs' books at their natural prices.

A combo's price is the sum of its legs' prices, each times its ratio, bought legs added
and sold legs taken off: so a debit is positive and a credit negative, as IB quotes them.
Buying the combo at its natural price pays the ask of every bought leg and takes the bid
of every sold leg; selling it does the opposite. A combo of stock and its options (a
buy-write: 100 shares to 1 call) is priced per share: a share's price counts 1/100 of an
option's (the leg's multiplier over the combo's), so the buy-write's net is the stock's
price less the call's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ibterm.domain.instrument import SecType
from ibterm.domain.ticks import round_to_tick
from ibterm.sim.book import Book
from ibterm.sim.contracts import ContractQuery, LegQuery
from ibterm.sim.greeks import Computation, Side
from ibterm.sim.market import Market
from ibterm.sim.world import PriceModel, SimInstrument, World

# The conId IB gives every combo it reports (openOrder, execDetails): its "spread
# template", with localSymbol the same number and trading class COMB (a TWS openOrder
# recorded in ib-ruby's specs; IBKR's Client Portal combo docs name the same id).
BAG_CON_ID = 28812380
BAG_TRADING_CLASS = "COMB"
NO_SECURITY = "No security definition has been found for the request"
# TWS answers a combo it cannot take with 321 and, as its cause, the text of IB's own
# message for it (312-315 in IB's table of codes): observed for a BAG without legs
# (rolandgg/rust_ib_api#2, IB Gateway 10.19); leg numbers count from 0.
_INVALID = "Error validating request.-'bN' : cause - "


class ComboError(ValueError):
    """A combo the gateway refuses: IB's code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ComboLeg:
    sim: SimInstrument
    ratio: int
    buy: bool

    @property
    def sign(self) -> int:
        return 1 if self.buy else -1


@dataclass(frozen=True, slots=True)
class Combo:
    symbol: str
    exchange: str
    currency: str
    legs: tuple[ComboLeg, ...]

    @property
    def con_id(self) -> int:
        return BAG_CON_ID

    @property
    def descrip(self) -> str:
        """comboLegsDescrip as TWS writes it: conId|signed ratio, comma-separated."""
        return ",".join(f"{leg.sim.instrument.con_id}|{leg.sign * leg.ratio}"
                        for leg in self.legs)

    @property
    def multiplier(self) -> float:
        """What one point of its net price is worth per unit: the largest of its legs'
        multipliers (an option's 100; 1 for stocks alone)."""
        return max(leg.sim.instrument.multiplier or 1.0 for leg in self.legs)

    def weight(self, leg: ComboLeg) -> float:
        """A leg's price's share of the net price, per unit of its ratio."""
        return (leg.sim.instrument.multiplier or 1.0) / self.multiplier

    @property
    def min_tick(self) -> float:
        return min(leg.sim.instrument.min_tick for leg in self.legs)

    @property
    def live_data(self) -> bool:
        return all(leg.sim.live_data for leg in self.legs)

    def key(self) -> tuple[tuple[int, int, bool], ...]:
        """What makes two combos the same contract: their legs."""
        return tuple((leg.sim.instrument.con_id, leg.ratio, leg.buy) for leg in self.legs)


def _underlying(sim: SimInstrument) -> int:
    return sim.underlying or sim.instrument.con_id


def make_combo(world: World, query: ContractQuery, legs: Sequence[LegQuery]) -> Combo:
    """The combo a request names; ComboError with IB's code and text when it cannot be."""
    if not legs:
        raise ComboError(321, _INVALID + "Security type 'BAG' requires combo leg details.")
    made = []
    for i, leg in enumerate(legs):
        sim = world.instruments.get(leg.con_id)
        if sim is None:
            raise ComboError(200, NO_SECURITY)
        action = leg.action.upper()
        if leg.ratio <= 0 or action not in ("BUY", "SELL"):
            raise ComboError(321, _INVALID + f"The combo details for leg '{i}' are invalid.")
        smart = (leg.exchange or query.exchange).upper() == "SMART"
        if sim.instrument.sec_type is SecType.STK and not smart:
            raise ComboError(321, _INVALID + "Stock combo legs are restricted to SMART order "
                                             "routing.")
        made.append(ComboLeg(sim, leg.ratio, action == "BUY"))
    # Legs on several underlyings make an inter-commodity combo, which only SMART routes.
    if len({_underlying(leg.sim) for leg in made}) > 1 and query.exchange != "SMART":
        raise ComboError(321, _INVALID + "The combo details are invalid.")
    symbol = query.symbol or made[0].sim.instrument.symbol
    return Combo(symbol, query.exchange or "SMART", query.currency or "USD", tuple(made))


def combo_book(market: Market, combo: Combo, delayed: bool = False) -> Book:
    """The combo's book at its legs' natural prices; a side is empty (size 0) when one of
    the legs it needs is. High and low are those of the open, close and last."""
    bid = ask = last = open_ = close = 0.0
    bid_size = ask_size = volume = math.inf
    for leg in combo.legs:
        b = market.book(leg.sim.instrument.con_id, delayed)
        r = leg.ratio
        w = leg.sign * r * combo.weight(leg)
        # Selling the combo sells the bought legs at their bid and buys the sold ones at
        # their ask; buying it the other way round.
        sell_px, sell_size = (b.bid, b.bid_size) if leg.buy else (b.ask, b.ask_size)
        buy_px, buy_size = (b.ask, b.ask_size) if leg.buy else (b.bid, b.bid_size)
        bid += w * sell_px
        ask += w * buy_px
        bid_size = min(bid_size, sell_size // r)
        ask_size = min(ask_size, buy_size // r)
        last += w * b.last
        open_ += w * b.open
        close += w * b.close
        volume = min(volume, b.volume // r)
    tick = combo.min_tick

    def px(value: float) -> float:
        return round_to_tick(value, tick)

    prices = (px(open_), px(close), px(last))
    return Book(px(bid), px(ask), px(last), bid_size, ask_size, 0, volume, px(open_),
                max(prices), min(prices), px(close))


def combo_computations(market: Market, combo: Combo, delayed: bool = False
                       ) -> dict[Side, Computation]:
    """The model greeks of an options-only combo, its legs' summed by ratio and side (no
    implied volatility of its own); {} for a combo with another kind of leg."""
    if not all(leg.sim.model is PriceModel.OPTION for leg in combo.legs):
        return {}
    parts = [(leg.sign * leg.ratio,
              market.option_computations(leg.sim.instrument.con_id, delayed)[Side.MODEL])
             for leg in combo.legs]

    def total(field: str) -> float:
        return round(sum(weight * float(getattr(part, field)) for weight, part in parts), 6)

    one_underlying = len({_underlying(leg.sim) for leg in combo.legs}) == 1
    return {Side.MODEL: Computation(None, total("delta"), total("price"), total("gamma"),
                                    total("vega"), total("theta"),
                                    parts[0][1].und_price if one_underlying else None)}
