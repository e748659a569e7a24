"""Quotes as the UI and the pre-trade checks see them: values plus provenance and age."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class MarketDataType(IntEnum):
    """IB's market data types (reqMarketDataType)."""

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_live(self) -> bool:
        return self is MarketDataType.LIVE


_LABELS = {
    MarketDataType.LIVE: "live",
    MarketDataType.FROZEN: "frozen",
    MarketDataType.DELAYED: "delayed",
    MarketDataType.DELAYED_FROZEN: "delayed-frozen",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """One instrument's top of book. Prices are None when the market sends none."""

    con_id: int
    data_type: MarketDataType
    updated_at: float  # monotonic seconds of the last change
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None
    volume: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    # "" (fine), "bad" (far off the recent price), "crossed" (bid above ask), "zero":
    # a flagged quote is shown as such and never prices or checks an order.
    flag: str = ""

    @property
    def change(self) -> float | None:
        if self.last is None or self.close is None:
            return None
        return self.last - self.close

    @property
    def change_pct(self) -> float | None:
        change = self.change
        if change is None or not self.close:
            return None
        return change / self.close * 100.0

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2.0

    def age(self, now: float) -> float:
        return max(0.0, now - self.updated_at)

    def is_stale(self, now: float, stale_after: float) -> bool:
        return self.age(now) > stale_after


def clean_price(value: float | None) -> float | None:
    """ib_async reports 'no value' as NaN or IB's -1 sentinel: both become None."""
    if value is None or math.isnan(value) or value == -1.0:
        return None
    return float(value)


FLAG_TEXT = {"bad": "a suspected bad tick (far from the recent price)",
             "crossed": "crossed (bid above ask)", "zero": "zero or negative"}


def tick_flag(quote: Quote, reference: float | None, band: float) -> str:
    """What is wrong with a quote, judged against the recent good price (or the close)."""
    prices = [p for p in (quote.bid, quote.ask, quote.last) if p is not None]
    if any(p <= 0 for p in prices):
        return "zero"
    if quote.bid is not None and quote.ask is not None and quote.bid > quote.ask:
        return "crossed"
    ref = reference if reference is not None else quote.close
    if ref:
        for p in prices:
            if abs(p / ref - 1.0) > band:
                return "bad"
    return ""


def quote_mark(q: Quote) -> float | None:
    """A quote's mid, else its last trade; None for a flagged quote (bad, crossed, zero)."""
    if q.flag:
        return None
    price = q.mid if q.mid is not None else q.last
    return price if price is not None and price > 0 else None
