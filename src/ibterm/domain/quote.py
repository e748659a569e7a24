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


# A move of a few ticks is never a bad tick, whatever the band says: an option quoted at
# 0.02 that ticks to 0.04 has moved 100%, and cheap options do that all day.
BAND_FLOOR_TICKS = 5


def _flag(bid: float | None, ask: float | None, last: float | None,
          ref: float | None, band: float, floor: float) -> str:
    """The rule itself, on plain prices: zero, crossed, then far from `ref`."""
    if (bid is not None and bid <= 0) or (ask is not None and ask <= 0) or (
            last is not None and last <= 0):
        return "zero"
    if bid is not None and ask is not None and bid > ask:
        return "crossed"
    if ref:
        allowed = max(abs(ref) * band, floor)
        for p in (bid, ask, last):
            if p is not None and abs(p - ref) > allowed:
                return "bad"
    return ""


def tick_flag(quote: Quote, reference: float | None, band: float, min_tick: float = 0.0) -> str:
    """What is wrong with a quote, judged against the recent good price (or the close)."""
    ref = reference if reference is not None else quote.close
    return _flag(quote.bid, quote.ask, quote.last, ref, band, BAND_FLOOR_TICKS * min_tick)


def _value(x: float) -> float | None:
    # ib_async's "no value" is NaN (x != x) or IB's -1 sentinel; see clean_price.
    return None if x != x or x == -1.0 else x


def _same(x: float, y: float) -> bool:
    return x == y or (x != x and y != y)  # NaN, ib_async's "none", equals only NaN here


class TickCheck:
    """One instrument's bad-tick judge, fed every quote once, as it arrives.

    Quotes are judged against the reference: the last good price, or the close before
    there is one. Only what changed is judged. The book (bid, ask and their sizes) counts
    as a new quote whenever any of them changes: a market maker re-sizing a bid stands by
    its price again, and a cheap option can sit at one price all day. A volume update is
    no quote. The last trade is judged when it prints, not again as the book moves away
    from it (an old trade is not a bad tick, but a bad print stays bad until the next
    trade replaces it), and repeating a print is no new evidence for it.
    A real gap is not a bad tick: `reanchor` consecutive quotes outside the band that agree
    with each other (within the band of the first of them) become the new reference, and
    that quote and those after it are good. A lone outlier stays bad, and so does a quote
    whose own prices disagree (a wild print beside a sane book), since it can never start
    such a run. Crossed and zero quotes stay flagged and break a run.
    """

    __slots__ = (
        "_prices",
        "_print",
        "_run",
        "_run_anchor",
        "_sizes",
        "band",
        "flag",
        "floor",
        "reanchor",
        "reference",
    )

    def __init__(self, band: float, reanchor: int, min_tick: float = 0.0):
        self.band = band
        self.floor = BAND_FLOOR_TICKS * min_tick
        self.reanchor = reanchor
        self.reference: float | None = None
        self.flag = ""
        self._prices: tuple[float, float, float] | None = None
        self._sizes: tuple[float, float] = (math.nan, math.nan)
        self._print = ""  # the verdict on the last trade, kept until the next one
        self._run = 0
        self._run_anchor: float | None = None

    def observe(self, bid: float, ask: float, last: float, close: float,
                bid_size: float = math.nan, ask_size: float = math.nan) -> str:
        """Judge the quote now in the ticker (raw ib_async values); returns its flag."""
        seen = self._prices
        if seen is None:
            new_print = True
        else:
            new_print = not _same(last, seen[2])
            if not new_print and _same(bid, seen[0]) and _same(ask, seen[1]) and _same(
                    bid_size, self._sizes[0]) and _same(ask_size, self._sizes[1]):
                return self.flag
        self._prices = (bid, ask, last)
        self._sizes = (bid_size, ask_size)
        b, a = _value(bid), _value(ask)
        t = _value(last) if new_print else None
        ref = self.reference
        if ref is None:
            ref = _value(close)
        band, floor = self.band, self.floor
        if new_print:
            self._print = _flag(None, None, t, ref, band, floor)
        fresh = _flag(b, a, t, ref, band, floor)
        mark = (b + a) / 2.0 if b is not None and a is not None else (
            t if t is not None else (b if b is not None else a))
        if fresh == "":
            self._run = 0
            if mark is not None:
                self.reference = mark
            flag = self._print
        elif fresh == "bad" and mark is not None:
            if self._run and _flag(b, a, t, self._run_anchor, band, floor) == "":
                self._run += 1
            elif _flag(b, a, t, mark, band, floor) == "":
                self._run, self._run_anchor = 1, mark  # consistent in itself: a run starts
            else:
                self._run = 0
            flag = "bad"
            if self._run >= self.reanchor:
                self._run, self.reference, flag = 0, mark, ""
                # The standing trade, judged again against the new level it belongs to.
                self._print = _flag(None, None, _value(last), mark, band, floor)
                flag = self._print
        else:
            self._run = 0
            flag = fresh
        self.flag = flag
        return flag


def quote_mark(q: Quote) -> float | None:
    """A quote's mid, else its last trade; None for a flagged quote (bad, crossed, zero)."""
    if q.flag:
        return None
    price = q.mid if q.mid is not None else q.last
    return price if price is not None and price > 0 else None
