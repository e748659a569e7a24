"""Level-2 books built around the live quote.

Row 0 of each side is the top of the book: the quote's bid or ask with its size. Deeper
rows are one tick apart going away from it, each with a size seeded from the run's seed,
the instrument, its price and the time: a level keeps its size for about eight steps and
the levels do not all change on the same step.
"""

from __future__ import annotations

import zlib

from ibterm.domain.ticks import round_to_tick
from ibterm.sim.book import Book

# The deepest book a request gets, however many rows it asks for.
MAX_ROWS = 10
# Steps a deeper level keeps its size.
SIZE_STEPS = 8

Row = tuple[float, float]  # price, size


def _size(key: str, side: str, ticks: int, step: int, lot: float) -> float:
    h = zlib.crc32(f"{key}/{side}/{ticks}".encode())
    bucket = (step + h % SIZE_STEPS) // SIZE_STEPS
    return lot * (1 + zlib.crc32(f"{key}/{side}/{ticks}/{bucket}".encode()) % 30)


def depth_rows(book: Book, tick: float, lot: float, rows: int, key: str,
               step: int) -> tuple[list[Row], list[Row]]:
    """The bid rows and the ask rows, best first, `rows` of each at most. A side without
    a quote (size 0) has no rows; the bids stop above zero."""
    bids: list[Row] = []
    asks: list[Row] = []
    if book.bid > 0 and book.bid_size > 0:
        top = round(book.bid / tick)
        bids.append((book.bid, book.bid_size))
        for level in range(1, rows):
            ticks = top - level
            if ticks <= 0:
                break
            bids.append((round_to_tick(ticks * tick, tick), _size(key, "B", ticks, step, lot)))
    if book.ask > 0 and book.ask_size > 0:
        top = round(book.ask / tick)
        asks.append((book.ask, book.ask_size))
        for level in range(1, rows):
            ticks = top + level
            asks.append((round_to_tick(ticks * tick, tick), _size(key, "A", ticks, step, lot)))
    return bids, asks
