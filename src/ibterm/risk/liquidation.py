"""Liquidation estimate: how far an underlying can move, everything else fixed, before the
account's excess liquidity (equity - maintenance margin) reaches zero; and the same for
one common move of every equity-like underlying (the stress's correlated view).

At a move m of the underlying(s), every row on it is revalued: the underlying at
S x (1 + m), stock and futures at their price x (1 + m), options at their price plus the
change of their model value (volatility, rate and time fixed). Excess liquidity there is

    equity + P&L(m) - maintenance(m)

with the maintenance margin recomputed on the moved rows (pairing included: margin.py,
span.py); other underlyings keep their margin. The search walks out from zero over a
geometric grid (first_step, growing by `growth`, to max_down / max_up) and bisects the
first interval where excess liquidity turns non-positive, to `tolerance`. A dip below zero
that starts and ends between two grid points is not seen. Parameters: the `liquidation`
section of the risk tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ibterm.risk import tables
from ibterm.risk.margin import DEFAULT_RATE, Rates, compute_margin
from ibterm.risk.portfolio import Row
from ibterm.risk.pricing import carry_of, scenario_values
from ibterm.risk.span import SpanParams
from ibterm.risk.stress import StressParams, positions


def _default(name: str):  # type: ignore[no-untyped-def]
    return field(default_factory=lambda: getattr(tables.shipped().liquidation, name))


@dataclass(frozen=True, slots=True)
class LiquidationParams:
    max_down: float = _default("max_down")
    max_up: float = _default("max_up")
    first_step: float = _default("first_step")
    growth: float = _default("growth")
    tolerance: float = _default("tolerance")

    @classmethod
    def from_table(cls, m: tables.LiquidationModel) -> LiquidationParams:
        return cls(**m.model_dump())

    def grid(self, limit: float) -> list[float]:
        """Move sizes from first_step to limit, each `growth` times the last."""
        out, step = [], self.first_step
        while step < limit:
            out.append(step)
            step *= self.growth
        out.append(limit)
        return out


@dataclass(frozen=True, slots=True)
class Liquidation:
    """Where excess liquidity reaches zero: `down` and `up` are moves (fractions, down
    negative), None when it does not within the searched range; 0.0 when it is at or
    below zero already."""

    name: str  # the underlying, or "correlated"
    down: float | None
    up: float | None

    def as_dict(self) -> dict[str, float | None]:
        # Six decimals: the search's tolerance is 1e-4, the rest is bisection noise.
        return {"down": None if self.down is None else round(self.down, 6),
                "up": None if self.up is None else round(self.up, 6)}


@dataclass(frozen=True, slots=True)
class LiquidationReport:
    equity: float
    excess: float  # now
    by_underlying: list[Liquidation]
    correlated: Liquidation | None  # None when no row is equity-like

    def as_dict(self, params: LiquidationParams) -> dict[str, Any]:
        """The `liquidation` key of `ibterm risk --json` (docs/risk.md): moves as
        fractions, None (null) when not reached within `searched`, the range looked at."""
        return {"equity": round(self.equity, 2),
                "excess_liquidity": round(self.excess, 2),
                "by_underlying": {x.name: x.as_dict() for x in self.by_underlying},
                "correlated": None if self.correlated is None else self.correlated.as_dict(),
                "searched": {"down": -params.max_down, "up": params.max_up}}


def liquidation(rows: list[Row], equity: float, as_of: dt.date, rate: float = DEFAULT_RATE,
                *, rates: Rates | None = None,
                futures_margin: dict[str, tuple[float, float]] | None = None,
                span: SpanParams | None = None, stress_params: StressParams | None = None,
                params: LiquidationParams | None = None) -> LiquidationReport:
    """The liquidation moves of each underlying, and of the equity-like ones together."""
    params = params or LiquidationParams()
    stress_params = stress_params or StressParams()
    vols = positions(rows, as_of, rate).vol.tolist()  # every option's volatility
    priced = [replace(r, iv=v) if r.is_option else r for r, v in zip(rows, vols, strict=True)]

    def margin(subset: list[Row]) -> float:
        if not subset:
            return 0.0
        return compute_margin(subset, as_of, rates, futures_margin, span=span,
                              rate=rate).maintenance

    excess = equity - margin(priced)
    by_symbol: dict[str, list[Row]] = {}
    for r in priced:
        by_symbol.setdefault(r.symbol, []).append(r)
    parts = {symbol: _Part(mine, as_of, rate, margin) for symbol, mine in by_symbol.items()}

    def excess_at(part: _Part) -> Callable[[float], float]:
        return lambda m: excess + part.change(m)

    found = [_search(symbol, excess_at(parts[symbol]), params) for symbol in sorted(parts)]
    # The correlated view moves every equity-like row at once. Margin adds up over
    # underlyings, so an underlying whose rows all move reuses its own figures.
    together: list[_Part] = []
    for symbol in sorted(by_symbol):
        moving = [r for r in by_symbol[symbol]
                  if r.index_class in stress_params.correlated_classes]
        if len(moving) == len(by_symbol[symbol]):
            together.append(parts[symbol])
        elif moving:
            together.append(_Part(moving, as_of, rate, margin))
    correlated = None
    if together:
        correlated = _search("correlated",
                             lambda m: excess + sum(part.change(m) for part in together), params)
    return LiquidationReport(equity, excess, found, correlated)


class _Part:
    """Some rows of one underlying: how excess liquidity changes when it moves (P&L less
    the change of their maintenance margin), remembered per move."""

    def __init__(self, rows: list[Row], as_of: dt.date, rate: float,
                 margin: Callable[[list[Row]], float]) -> None:
        self.mover = _Mover(rows, as_of, rate)
        self.margin = margin
        self.base = margin(rows)
        self.seen: dict[float, float] = {0.0: 0.0}

    def change(self, move: float) -> float:
        if move not in self.seen:
            self.seen[move] = self.mover.pnl(move) - (self.margin(self.mover.moved(move))
                                                      - self.base)
        return self.seen[move]


class _Mover:
    """Rows revalued at a move of their underlying."""

    def __init__(self, rows: list[Row], as_of: dt.date, rate: float) -> None:
        self.rows = rows
        self.as_of = as_of
        self.rate = rate
        self.option = np.array([r.is_option for r in rows])
        self._opt = [r for r in rows if r.is_option]
        if self._opt:
            o = self._opt
            rates = np.full(len(o), rate)
            self._args = (
                np.array([r.underlying_price for r in o]), np.array([r.strike for r in o]),
                np.array([max((r.expiry - as_of).days, 0) / 365.0 if r.expiry else 0.0
                          for r in o]),
                np.array([r.iv or 0.0 for r in o]), rates,
                carry_of(rates, np.array([r.div_yield for r in o]),
                         np.array([r.sec_type == "FOP" for r in o])),
                np.array([r.right == "C" for r in o]))
            self._now = self._values(0.0)

    def _values(self, move: float) -> np.ndarray:
        return scenario_values(*self._args, [move], [0.0])[:, 0]

    def pnl(self, move: float) -> float:
        linear = sum(r.quantity * r.multiplier * r.price * move for r in self.rows
                     if not r.is_option)
        if not self._opt:
            return linear
        change = self._values(move) - self._now
        return linear + float(sum(r.quantity * r.multiplier * c
                                  for r, c in zip(self._opt, change.tolist(), strict=True)))

    def moved(self, move: float) -> list[Row]:
        change = iter((self._values(move) - self._now).tolist() if self._opt else [])
        out = []
        for r in self.rows:
            if r.is_option:
                price = max(r.price + next(change), 0.0)
                out.append(replace(r, price=price, underlying_price=r.underlying_price
                                   * (1 + move)))
            else:
                moved = r.price * (1 + move)
                out.append(replace(r, price=moved, underlying_price=moved))
        return out


def _search(name: str, excess_at: Callable[[float], float],
            params: LiquidationParams) -> Liquidation:
    if excess_at(0.0) <= 0:
        return Liquidation(name, 0.0, 0.0)
    return Liquidation(name, _first_zero(excess_at, -1.0, params.grid(params.max_down),
                                         params.tolerance),
                       _first_zero(excess_at, 1.0, params.grid(params.max_up),
                                   params.tolerance))


def _first_zero(excess_at: Callable[[float], float], sign: float, grid: list[float],
                tolerance: float) -> float | None:
    inside = 0.0  # the last move with excess above zero
    for size in grid:
        if excess_at(sign * size) <= 0:
            outside = size
            while outside - inside > tolerance:
                mid = (inside + outside) / 2
                if excess_at(sign * mid) <= 0:
                    outside = mid
                else:
                    inside = mid
            return sign * outside
        inside = size
    return None
