"""One instrument's quote at one step: what the random walks produce and every family
(quotes, bars, depth, tick-by-tick, fills) reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Book:
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float
    open: float
    high: float
    low: float
    close: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0
