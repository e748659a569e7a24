"""What an order does to margin and to the stressed portfolio, before it is sent.

An order is given as its possible outcomes, each a list of fills: one order has one; a
bracket can end as its entry alone, entry and take profit, or entry and stop (its worst
case counts, not the sum of its legs as IB's what-if would); an OCA group as any one of
its orders. Fills are netted with the positions they touch. Equity is taken as unchanged
by the trade itself (it happens at the mark); commissions are not included here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import partial

from ibterm.risk.margin import compute_margin, margin_and_stress
from ibterm.risk.memo import PartsMemo
from ibterm.risk.portfolio import Row
from ibterm.risk.settings import RiskSettings
from ibterm.risk.strategy import Strategy
from ibterm.risk.stress import positions, stress


@dataclass(frozen=True, slots=True)
class Figures:
    initial: float
    maintenance: float
    long_premium: float
    worst_loss: float


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    before: Figures
    after: Figures  # the worst of the order's outcomes
    equity: float

    @property
    def initial_change(self) -> float:
        return self.after.initial - self.before.initial

    @property
    def maintenance_change(self) -> float:
        return self.after.maintenance - self.before.maintenance

    def excess(self, figures: Figures) -> float:
        return self.equity - figures.maintenance

    def cushion(self, figures: Figures) -> float | None:
        return self.excess(figures) / self.equity if self.equity else None

    @property
    def margin_call(self) -> bool:
        return self.excess(self.after) < 0


def _key(r: Row) -> tuple[object, ...]:
    return (r.symbol, r.sec_type, r.right, r.strike, r.expiry, r.multiplier, r.account)


def net(rows: list[Row], fills: list[Row]) -> list[Row]:
    """Positions after the fills: same instruments add up, flat ones disappear."""
    merged: dict[tuple[object, ...], Row] = {}
    for r in [*rows, *fills]:
        key = _key(r)
        if key in merged:
            merged[key] = replace(merged[key], quantity=merged[key].quantity + r.quantity)
        else:
            merged[key] = r
    return [r for r in merged.values() if abs(r.quantity) > 1e-12]


@dataclass(slots=True)
class FiguresMemo:
    """What figures() remembers between calls (memo.py): each underlying and account's
    strategies, each underlying's worst stress loss. One per set of risk tables."""

    margin: PartsMemo[list[Strategy]] = field(default_factory=PartsMemo)
    stress: PartsMemo[float] = field(default_factory=PartsMemo)


def figures(rows: list[Row], as_of: dt.date, rate: float,
            settings: RiskSettings | None = None, memo: FiguresMemo | None = None) -> Figures:
    """Margin and worst stress loss of a book, with the user's risk tables (`settings`,
    default: the shipped ones). With a memo, only the underlyings whose rows it has not
    seen are computed; the figures are the same."""
    if not rows:
        return Figures(0.0, 0.0, 0.0, 0.0)
    t = settings or RiskSettings()
    if memo is None:
        # The stress runs while a second core pairs half of a large book (parallel.py).
        m, result = margin_and_stress(rows, as_of, t.rates, t.futures_margin, span=t.span,
                                      rate=rate, stress_params=t.stress,
                                      correlated_view=False)
        worst = result.worst_loss
    else:
        m = compute_margin(rows, as_of, t.rates, t.futures_margin, span=t.span, rate=rate,
                           memo=memo.margin)
        worst = _worst_loss(rows, as_of, rate, t, memo.stress)
    return Figures(m.initial, m.maintenance, m.long_premium, worst)


def _worst_loss(rows: list[Row], as_of: dt.date, rate: float, t: RiskSettings,
                memo: PartsMemo[float]) -> float:
    """stress()'s worst loss, one underlying at a time: each one's loss depends on its
    own rows only (in their order: the first row's class picks the scan), and the total
    is summed in stress()'s order, by name."""
    by_symbol: dict[str, list[Row]] = {}
    for r in rows:
        by_symbol.setdefault(r.symbol, []).append(r)

    def loss(symbol: str, mine: list[Row]) -> float:
        return stress(positions(mine, as_of, rate), t.stress,
                      correlated_view=False).by_underlying[symbol]

    losses = {symbol: memo.get(mine, (as_of, rate), partial(loss, symbol, mine))
              for symbol, mine in by_symbol.items()}
    return round(sum(losses[symbol] for symbol in sorted(losses)), 2)


def what_if(positions: list[Row], outcomes: list[list[Row]], equity: float, as_of: dt.date,
            rate: float, settings: RiskSettings | None = None,
            before: Figures | None = None, memo: FiguresMemo | None = None) -> WhatIfResult:
    """`before` can be passed in: it changes with the positions, not with the ticket;
    `memo` keeps the parts of the book an order does not touch (FiguresMemo)."""
    if before is None:
        before = figures(positions, as_of, rate, settings, memo)
    afters = [figures(net(positions, fills), as_of, rate, settings, memo)
              for fills in outcomes] or [before]
    worst = max(afters, key=lambda f: (f.initial, f.maintenance, f.worst_loss))
    return WhatIfResult(before, worst, equity)
