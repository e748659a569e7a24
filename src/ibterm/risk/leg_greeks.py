"""Each leg's greeks per unit, for the strategy builder: an option's from the project's
pricer at the volatility its mid implies (risk.book's VolCache), a stock's delta 1.

Pure computation: the builder runs it in a worker thread with prices copied on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np

from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.orders import ComboLeg
from ibterm.risk.book import NotCovered, VolCache, instrument_row
from ibterm.risk.pricing import carry_of, greeks

DAYS_PER_YEAR = 365.0


def leg_greeks(legs: Sequence[ComboLeg], mark: Mapping[int, float], spot: float | None,
               as_of: dt.date, rate: float, vols: VolCache) -> list[dict[str, float] | None]:
    """Per leg: delta, gamma, vega per vol point and theta per day of one unit (None
    when the leg cannot be priced: no mark or no underlying price)."""
    out: list[dict[str, float] | None] = []
    for leg in legs:
        inst: Instrument = leg.instrument
        if inst.sec_type is SecType.STK:
            out.append({"delta": 1.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0})
            continue
        try:
            row = instrument_row(inst, 1.0, mark.get(inst.con_id), spot, 0)
        except NotCovered:
            out.append(None)
            continue
        [row] = vols.fill([row], as_of, rate)
        years = ((row.expiry - as_of).days / DAYS_PER_YEAR) if row.expiry else 0.0
        one = np.ones(1)
        g = greeks(one * row.underlying_price, one * row.strike, one * years,
                   one * (row.iv or 0.0), one * rate,
                   carry_of(one * rate, one * row.div_yield, np.array([row.sec_type == "FOP"])),
                   np.array([row.right == "C"]))
        out.append({"delta": float(g["delta"][0]), "gamma": float(g["gamma"][0]),
                    "vega": float(g["vega"][0]) / 100.0,
                    "theta": float(g["theta"][0]) / DAYS_PER_YEAR})
    return out
