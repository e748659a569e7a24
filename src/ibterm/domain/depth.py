"""Market depth (level 2) as the ladder reads it: the book's levels on each side, and
what is known of its freshness (loading, live, refused, stopped)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FeedState(StrEnum):
    """A depth or tick-by-tick subscription's state, as the screen says it."""

    LOADING = "loading"
    LIVE = "live"
    REFUSED = "refused"  # IB answered with an error (309, 354, 10092…), or no line was free
    STOPPED = "stopped"  # it was live and stopped (the link went, IB ended it)


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: float
    size: float
    market_maker: str = ""  # the exchange with SMART depth, else ""


@dataclass(frozen=True, slots=True)
class DepthBook:
    con_id: int
    bids: tuple[DepthLevel, ...] = ()  # best (highest) first
    asks: tuple[DepthLevel, ...] = ()  # best (lowest) first
    state: FeedState = FeedState.LOADING
    detail: str = ""  # why refused or stopped, in IB's words with its code
    updated_at: float = 0.0  # the session's clock at the last change of a row

    @property
    def best_bid(self) -> float | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0].price if self.asks else None

    def age(self, now: float) -> float:
        return max(0.0, now - self.updated_at)
