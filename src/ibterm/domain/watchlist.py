"""One watchlist entry: the text the trader wrote, and what it resolved to or why not."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.domain.instrument import Instrument


@dataclass(frozen=True, slots=True)
class WatchItem:
    text: str  # as the user wrote it
    instrument: Instrument | None = None
    error: str = ""
