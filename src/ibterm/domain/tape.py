"""Time and sales: each print with the side it traded at, judged against the quote in
force when it printed."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from ibterm.domain.depth import FeedState


class Aggressor(StrEnum):
    """Which side took the trade: at or above the ask a buyer lifted it, at or below the
    bid a seller hit it, in between it traded inside the spread."""

    BUY = "buy"
    SELL = "sell"
    MID = "mid"
    UNKNOWN = "?"  # no two-sided quote to compare with


def aggressor(price: float, bid: float | None, ask: float | None) -> Aggressor:
    if bid is None or ask is None or not (math.isfinite(bid) and math.isfinite(ask)):
        return Aggressor.UNKNOWN
    if price >= ask:
        return Aggressor.BUY
    if price <= bid:
        return Aggressor.SELL
    return Aggressor.MID


@dataclass(frozen=True, slots=True)
class Print:
    time: dt.datetime  # when it arrived (aware)
    price: float
    size: float
    side: Aggressor
    exchange: str = ""


@dataclass(frozen=True, slots=True)
class Tape:
    con_id: int
    prints: tuple[Print, ...] = ()  # newest first
    state: FeedState = FeedState.LOADING
    detail: str = ""
