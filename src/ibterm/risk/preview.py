"""The margin preview of an order ticket: what the order would do to margin, excess
liquidity, cushion and the stressed portfolio, from the current positions and net
liquidation; the warnings a trader needs before sending it; and how far IB's own what-if
is from the local figure.

Pure computation (no Textual, no broker): the app snapshots the positions and prices on
its thread and runs `PreviewCalculator.preview` in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ibterm.domain.account import Position
from ibterm.domain.instrument import Instrument
from ibterm.domain.orders import IntentKind, OrderIntent
from ibterm.risk.book import (
    Book,
    NotCovered,
    PriceOf,
    VolCache,
    order_outcomes,
    positions_book,
)
from ibterm.risk.payoff import Payoff, payoff
from ibterm.risk.portfolio import Row
from ibterm.risk.settings import RiskSettings
from ibterm.risk.whatif import Figures, FiguresMemo, WhatIfResult, figures, net, what_if

# Differences below a dollar are rounding, not disagreement.
MIN_DIFFERENCE = 1.0


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    """Everything the preview reads, copied on the app's thread."""

    intent: OrderIntent
    positions: tuple[Position, ...]
    mark: Mapping[int, float]  # con_id -> the price to value it at now
    underlying: Mapping[int, float]  # an option's con_id -> its underlying's price
    net_liquidation: float | None
    account: str  # the account the positions and net liquidation are of
    as_of: dt.date
    rate: float
    buffer: float  # warn when the cushion after the order is under this


@dataclass(frozen=True, slots=True)
class Alert:
    level: str  # "warning" | "error"
    text: str


@dataclass(frozen=True, slots=True)
class MarginPreview:
    order: str  # the order in words (order_words): what IB's answer is matched against
    title: str = ""  # the heading (order_title)
    result: WhatIfResult | None = None
    payoff: Payoff | None = None
    chart_order: str = ""  # the outcome the chart's "after" curves show
    left_out: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()
    error: str = ""  # why there are no figures

    def committed(self, f: Figures) -> float | None:
        """Initial margin plus long option premium, as a fraction of net liquidation."""
        r = self.result
        if r is None or r.equity <= 0:
            return None
        return (f.initial + f.long_premium) / r.equity


@dataclass(frozen=True, slots=True)
class Disagreement:
    figure: str  # "initial" | "maintenance"
    local: float
    ib: float
    relative: float


def order_words(intent: OrderIntent) -> str:
    """The order in words: what the preview and IB's answer are about."""
    return "; ".join(leg.describe() for leg in intent.legs)


def order_title(intent: OrderIntent) -> str:
    """The order as the preview's heading: a bracket as its entry and exits."""
    legs = intent.legs
    if intent.kind is IntentKind.BRACKET and len(legs) == 3:
        take, stop = legs[1].limit, legs[2].stop
        return f"{legs[0].describe()}, exits {take:g} / {stop:g}"
    if intent.kind is IntentKind.OCA:
        return f"OCA: {' | '.join(leg.describe() for leg in legs)}"
    return order_words(intent)


def relative_difference(local: float, ib: float) -> float:
    gap = abs(local - ib)
    if gap < MIN_DIFFERENCE:
        return 0.0
    return gap / max(abs(local), abs(ib))


def disagreements(result: WhatIfResult, ib_initial: float | None, ib_maintenance: float | None,
                  threshold: float) -> list[Disagreement]:
    """The margin changes on which IB's what-if and the local calculator differ by more
    than `threshold` (relative to the larger of the two)."""
    out = []
    for name, local, ib in (("initial", result.initial_change, ib_initial),
                            ("maintenance", result.maintenance_change, ib_maintenance)):
        if ib is None:
            continue
        rel = relative_difference(local, ib)
        if rel > threshold:
            out.append(Disagreement(name, local, ib, rel))
    return out


def alerts_for(result: WhatIfResult, buffer: float) -> list[Alert]:
    out = []
    after = result.after
    equity = result.equity
    if result.margin_call:
        out.append(Alert("error", f"margin call: maintenance {after.maintenance:,.0f} over "
                                  f"net liq {equity:,.0f}"))
    elif after.initial > equity:
        out.append(Alert("error", f"initial margin {after.initial:,.0f} over net liq "
                                  f"{equity:,.0f}: IB would refuse it"))
    cushion = result.cushion(after)
    if cushion is not None and cushion < buffer:
        out.append(Alert("warning", f"cushion after {cushion:.1%} is under the "
                                    f"{buffer:.0%} buffer"))
    return out


class PreviewCalculator:
    """Keeps what does not change with the ticket (implied vols, the figures before the
    order, the figures of every underlying the order does not touch) so a ticket change
    costs one margin and stress run of the underlyings it touches."""

    def __init__(self, settings: RiskSettings | None = None) -> None:
        self.settings = settings or RiskSettings()
        # One preview at a time: a cancelled worker does not stop its thread, and the
        # caches below are not meant to be shared between threads.
        self._lock = threading.Lock()
        self.vols = VolCache()
        self.memo = FiguresMemo()
        self._before: tuple[tuple[tuple[Row, ...], dt.date, float], Figures] | None = None
        self._book: tuple[object, Book, list[Row]] | None = None

    def _positions(self, req: PreviewRequest, underlying: PriceOf) -> tuple[Book, list[Row]]:
        """The positions as rows with their vols: the same while only the ticket changes."""
        key = (req.positions, frozenset(req.mark.items()), frozenset(req.underlying.items()),
               req.as_of, req.rate)
        cached = self._book
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        book = positions_book(req.positions, req.mark, underlying)
        rows = self.vols.fill(book.rows, req.as_of, req.rate)
        self._book = (key, book, rows)
        return book, rows

    def _figures_before(self, rows: list[Row], as_of: dt.date, rate: float) -> Figures:
        key = (tuple(rows), as_of, rate)
        cached = self._before
        if cached is not None and cached[0] == key:
            return cached[1]
        result = figures(rows, as_of, rate, self.settings, self.memo)
        self._before = (key, result)
        return result

    def preview(self, req: PreviewRequest) -> MarginPreview:
        with self._lock:
            return self._preview(req)

    def _preview(self, req: PreviewRequest) -> MarginPreview:
        intent = req.intent
        order, title = order_words(intent), order_title(intent)
        if req.net_liquidation is None:
            return MarginPreview(order, title, error="waiting for the account's net "
                                                     "liquidation")

        def underlying(inst: Instrument) -> float | None:
            return req.underlying.get(inst.con_id)

        book, rows = self._positions(req, underlying)
        try:
            outcomes = order_outcomes(intent, req.account, req.mark, underlying)
        except NotCovered as exc:
            return MarginPreview(order, title, left_out=book.left_out, error=str(exc))
        outcomes = [self.vols.fill(fills, req.as_of, req.rate) for fills in outcomes]
        before = self._figures_before(rows, req.as_of, req.rate)
        result = what_if(rows, outcomes, req.net_liquidation, req.as_of, req.rate,
                         self.settings, before=before, memo=self.memo)
        # The chart shows the first outcome: the order, a bracket's entry, an OCA group's
        # first order.
        shown = outcomes[0]
        first = shown[0]
        scans = self.settings.stress.scans
        scan = scans.get(first.index_class, scans["equity"])
        chart = payoff(rows, net(rows, shown), first.symbol, req.as_of, req.rate, scan)
        left_out = list(book.left_out)
        foreign = {leg.account for leg in intent.legs if leg.account and leg.account != req.account}
        if foreign:
            left_out.append(f"the order is for {', '.join(sorted(foreign))}: figures are "
                            f"{req.account}'s")
        chart_order = "; ".join(spec.describe() for spec in intent.legs[:len(shown)])
        return MarginPreview(order, title, result, chart, chart_order, tuple(left_out),
                             tuple(alerts_for(result, req.buffer)))

