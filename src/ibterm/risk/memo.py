"""Figures of parts of a book (one underlying's margin or stress), remembered from one
call to the next: a ticket's preview values the book with and without the order many
times over, and an order touches one underlying or two, so the others are looked up.

A part is known by the identity of its rows, not their values: hashing every row of a
book would cost about as much as pricing a small one. That is sound because the memo
keeps the rows it was given (an id is not reused while its object lives), and because
a book made from another (whatif.net) keeps the rows it does not change as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ibterm.risk.portfolio import Row

T = TypeVar("T")


class PartsMemo(Generic[T]):
    """Results computed from lists of rows, at most `limit` of them (the oldest go)."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._found: dict[tuple[Hashable, ...], tuple[list[Row], T]] = {}

    def get(self, rows: list[Row], context: Hashable, compute: Callable[[], T]) -> T:
        """The result for `rows` (and `context`: whatever else it depends on), computed
        by `compute` when not remembered. Results are shared: read them, never change them."""
        key = (context, *map(id, rows))
        hit = self._found.get(key)
        if hit is not None:
            return hit[1]
        result = compute()
        if len(self._found) >= self.limit:
            del self._found[next(iter(self._found))]
        self._found[key] = (rows, result)
        return result
