"""Option computations as IB streams them: an implied volatility and the greeks at the bid,
the ask, the last and the model (the smile's volatility), each with the option's price
and its underlying's, from the project's pricer (risk/black_scholes, risk/pricing)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ibterm.domain.instrument import Right
from ibterm.risk.black_scholes import bsm_price
from ibterm.risk.pricing import greeks
from ibterm.sim.book import Book
from ibterm.sim.world import SimInstrument

# The bisection's bounds and steps: 48 halvings of [0.0001, 5] pin a volatility far
# below the precision IB sends (IVs to 1e-6), at a scalar pricer's cost.
_IV_LOW, _IV_HIGH, _IV_STEPS = 1e-4, 5.0, 48


class Side(IntEnum):
    """Which price a computation is made at; the values are IB's live tick types."""

    BID = 10
    ASK = 11
    LAST = 12
    MODEL = 13


@dataclass(frozen=True, slots=True)
class Computation:
    """One tickOptionComputation: vega per volatility point, theta per calendar day, as
    IB reports them; None where nothing is computed (a combo's volatility)."""

    implied_vol: float | None
    delta: float
    price: float
    gamma: float
    vega: float
    theta: float
    und_price: float | None


def implied_vol(sim: SimInstrument, spot: float, price: float, rate: float) -> float | None:
    """The volatility at which the pricer gives `price`; None where none does (a price
    below the option's discounted intrinsic value, or above its bound)."""
    inst = sim.instrument
    call = inst.right is Right.CALL

    def value(vol: float) -> float:
        return bsm_price(spot, inst.strike, sim.years, vol, rate, call)

    if not value(_IV_LOW) < price < value(_IV_HIGH):
        return None
    lo, hi = _IV_LOW, _IV_HIGH
    for _ in range(_IV_STEPS):
        mid = (lo + hi) / 2.0
        if value(mid) > price:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2.0


def computations(sim: SimInstrument, book: Book, under: Book, rate: float
                 ) -> dict[Side, Computation]:
    """What an option's subscription gets at one step: the model's always, the bid's,
    ask's and last's where a volatility reproduces that price (an empty bid has none)."""
    spot = under.mid
    inst = sim.instrument
    call = inst.right is Right.CALL
    model = bsm_price(spot, inst.strike, sim.years, sim.volatility, rate, call)
    at: dict[Side, tuple[float, float]] = {Side.MODEL: (sim.volatility, model)}
    for side, price, live in ((Side.BID, book.bid, book.bid_size > 0),
                              (Side.ASK, book.ask, book.ask_size > 0),
                              (Side.LAST, book.last, True)):
        vol = implied_vol(sim, spot, price, rate) if live else None
        if vol is not None:
            at[side] = (vol, price)
    vols = np.array([v for v, _ in at.values()])
    n = len(vols)
    g = greeks(np.full(n, spot), np.full(n, inst.strike), np.full(n, sim.years), vols,
               np.full(n, rate), np.zeros(n), np.full(n, 1.0 if call else 0.0))
    return {
        side: Computation(round(vol, 6), round(float(g["delta"][i]), 6), round(price, 6),
                          round(float(g["gamma"][i]), 6), round(float(g["vega"][i]) / 100, 6),
                          round(float(g["theta"][i]) / 365, 6), round(spot, 6))
        for i, (side, (vol, price)) in enumerate(at.items())
    }
