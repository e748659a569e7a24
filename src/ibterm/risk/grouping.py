"""The positions pane's strategies and greeks: the Reg T pairing (margin.py) run on the
account's positions, remembered until the positions change, and each option position's
greeks: IB's model computation while it streams live, else the project's pricer at the
volatility its mark implies.

Pure computation: the app copies a `GroupingRequest` on its thread and runs
`PositionGrouper.group` in a worker thread (polars and numpy load with this module).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

import numpy as np

from ibterm.domain.account import Position
from ibterm.domain.instrument import SecType
from ibterm.domain.position_groups import (
    IB,
    LOCAL,
    Grouping,
    GroupingRequest,
    PairedStrategy,
    UnitGreeks,
    exposure,
    model_exposure,
)
from ibterm.risk.book import NotCovered, VolCache, instrument_row
from ibterm.risk.margin import compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.pricing import carry_of, greeks

DAYS_PER_YEAR = 365.0
_OPTIONS = (SecType.OPT, SecType.FOP)


def _is_option(p: Position) -> bool:
    return p.instrument.sec_type in _OPTIONS


class PositionGrouper:
    """Keeps the last pairing (it changes only with the positions) and the implied
    volatilities (bisection is the cost of a pricing)."""

    def __init__(self) -> None:
        # One grouping at a time: a cancelled worker does not stop its thread.
        self._lock = threading.Lock()
        self.vols = VolCache()
        self._pairing: tuple[Hashable, dict[str, tuple[PairedStrategy, ...]]] | None = None

    def group(self, req: GroupingRequest) -> Grouping:
        with self._lock:
            live = [p for p in req.positions if p.quantity]
            rows = self._rows(live, req)
            return Grouping(self._strategies(live, rows, req), self._greeks(live, rows, req))

    def _rows(self, live: list[Position], req: GroupingRequest) -> dict[int, Row]:
        """The positions the calculator can take, as its rows by con_id (options with
        their implied volatility); what it cannot price is left out, never guessed."""
        rows: dict[int, Row] = {}
        for line, p in enumerate(live, start=2):
            inst = p.instrument
            inputs = req.options.get(inst.con_id)
            price = inputs.price if _is_option(p) and inputs is not None else p.market_price
            under = inputs.underlying if inputs is not None else None
            try:
                rows[inst.con_id] = instrument_row(inst, p.quantity, price, under, line,
                                                   p.account)
            except NotCovered:
                continue
        filled = self.vols.fill(rows.values(), req.as_of, req.rate)
        return {con_id: row for con_id, row in zip(rows, filled, strict=True)}

    def _strategies(self, live: list[Position], rows: dict[int, Row],
                    req: GroupingRequest) -> dict[str, tuple[PairedStrategy, ...]]:
        """The pairing of the rows, by underlying; the same until the positions (or which
        of them can be priced) change, whatever the prices do."""
        key = tuple((p.account, p.instrument.con_id, p.quantity, p.instrument.con_id in rows)
                    for p in live)
        cached = self._pairing
        if cached is not None and cached[0] == key:
            return cached[1]
        by_line = {row.line: con_id for con_id, row in rows.items()}
        expiry = {con_id: row.expiry for con_id, row in rows.items() if row.is_option}
        found: dict[str, list[PairedStrategy]] = {}
        for s in compute_margin(list(rows.values()), req.as_of, rate=req.rate).strategies:
            if len(s.legs) < 2:
                continue  # one leg is the position itself
            legs = tuple((by_line[line], qty) for line, qty in s.legs)
            days = sorted({d for c, _ in legs if (d := expiry.get(c)) is not None})
            found.setdefault(s.underlying, []).append(PairedStrategy(
                s.name, "/".join(d.strftime("%Y%m%d") for d in days), legs))
        result = {symbol: tuple(items) for symbol, items in found.items()}
        self._pairing = (key, result)
        return result

    def _greeks(self, live: list[Position], rows: dict[int, Row],
                req: GroupingRequest) -> dict[int, UnitGreeks]:
        """Each option's greeks for one contract: delta in shares, gamma in dollars of
        delta for a 1% move, theta in dollars a day, vega in dollars a vol point. IB's
        live model computation where it sent one, whole; else priced here, if it can be."""
        out: dict[int, UnitGreeks] = {}
        for p in live:
            inputs = req.options.get(p.instrument.con_id)
            if not _is_option(p) or inputs is None:
                continue
            ib = model_exposure(inputs.model, p.instrument.multiplier or 1.0,
                                inputs.underlying)
            if ib is not None:
                out[p.instrument.con_id] = UnitGreeks(ib, IB)
        options = [(p, rows[p.instrument.con_id]) for p in live
                   if _is_option(p) and p.instrument.con_id in rows
                   and p.instrument.con_id not in out]
        if not options:
            return out
        r = [row for _, row in options]
        rate = np.full(len(r), req.rate)
        black76 = np.array([row.sec_type == "FOP" for row in r])
        spot = np.array([row.underlying_price for row in r], dtype=float)
        g = greeks(spot, np.array([row.strike for row in r]),
                   np.array([((row.expiry - req.as_of).days if row.expiry else 0)
                             / DAYS_PER_YEAR for row in r]),
                   np.array([row.iv for row in r], dtype=float), rate,
                   carry_of(rate, np.zeros(len(r)), black76),
                   np.array([row.right == "C" for row in r]))
        for i, (p, row) in enumerate(options):
            # The pricer's theta is a year's and its vega a unit of volatility's: as IB's
            # (a day, a point) before the one conversion.
            unit = exposure(float(g["delta"][i]), float(g["gamma"][i]),
                            float(g["theta"][i]) / DAYS_PER_YEAR, float(g["vega"][i]) / 100.0,
                            float(spot[i]), row.multiplier)
            out[p.instrument.con_id] = UnitGreeks(unit, LOCAL,
                                                  req.options[p.instrument.con_id].inputs)
        return out
