"""The requests no family serves yet (history and bars, depth, scanner, news …): what each
is, and where its request id sits, so that the refusal reaches the request that waits
for it (ib_async keys its futures by request id). A family that starts serving one of
them takes its entry out of here."""

from __future__ import annotations

# Message id: (what it asks for, the index of its request id or None).
UNSERVED: dict[int, tuple[str, int | None]] = {
    10: ("market depth", 2),
    20: ("historical data", 1),
    21: ("option exercise", 2),
    22: ("scanner", 2),
    50: ("real-time bars", 2),
    52: ("fundamental data", 2),
    54: ("implied volatility calculation", 2),
    55: ("option price calculation", 2),
    74: ("positions by model", 2),
    81: ("symbol search", 1),
    83: ("SMART components", 1),
    84: ("news articles", 1),
    86: ("historical news", 1),
    87: ("head timestamps", 1),
    88: ("histogram data", 1),
    96: ("historical ticks", 1),
    97: ("tick-by-tick data", 1),
    100: ("WSH metadata", 1),
    102: ("WSH event data", 1),
    104: ("user info", 1),
}


def unserved(msg_id: int) -> tuple[str, int | None]:
    """What `msg_id` asks for and where its request id is; a message unknown here is
    named by its id and answered for no request."""
    return UNSERVED.get(msg_id, (f"message {msg_id}", None))
