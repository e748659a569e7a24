"""A sliding-window rate limit for order messages, on an injectable clock."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable


class Throttle:
    """At most `rate` messages in any one-second window (IB rejects bursts over 50/s)."""

    def __init__(self, rate: float, clock: Callable[[], float]):
        self.limit = max(1, math.floor(rate))
        self.clock = clock
        self._sent: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until one more message may go (0 if it may go now)."""
        now = self.clock()
        while self._sent and now - self._sent[0] >= 1.0:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + 1.0 - now

    def record(self) -> None:
        self._sent.append(self.clock())
