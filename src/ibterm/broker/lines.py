"""The market-data lines the app holds, against the profile's limit.

IB allows a login so many concurrent lines (100 to start with); a request past them is
refused with error 101 and the row simply never quotes. The app counts its own lines and
refuses, with a notice that names the limit, before it would ask for one too many.

What counts as a line: each instrument's streaming quote (reqMktData), once however many
parts hold it, until its last holder lets it go (broker/quotes.py makes every quote
subscription and counts its holders: a watchlist row, the ticket, a position, the option
chain, a part that keeps it). Not a chart's
history with keepUpToDate: IB counts that against its historical-data limits (pacing,
at most 50 open requests), not the lines. Market depth and tick-by-tick count here when
they are added: IB counts them against the lines too.
"""

from __future__ import annotations


class MarketDataLines:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # What holds a line: a quote by its instrument's con_id; another subscription
        # (depth, tick-by-tick) by a key of its own that no con_id takes.
        self._held: set[int] = set()

    def take(self, key: int) -> bool:
        """A line for this subscription: True if it holds one or one is free."""
        if key in self._held:
            return True
        if len(self._held) >= self.limit:
            return False
        self._held.add(key)
        return True

    def release(self, key: int) -> None:
        """The subscription ended: its line is free again."""
        self._held.discard(key)

    def holds(self, key: int) -> bool:
        return key in self._held

    def clear(self) -> None:
        """The link went, and the gateway's subscriptions with it."""
        self._held.clear()

    @property
    def used(self) -> int:
        return len(self._held)

    def refusal(self, what: str) -> str:
        return (f"{what}: not subscribed, all {self.limit} market-data lines are in use "
                "(the profile's market_data_lines; IB refuses more with error 101)")
