"""The requests no family serves yet (fundamental data, symbol search, news articles …)
and how each is answered so that no client call waits for ever:

- a request gets its refusal on its own request id (wire/fields.request_id), which ends
  the call that ib_async and ib_insync key by that id;
- a cancel (or a setting) gets nothing, as a cancel of a finished request gets nothing
  the client waits for.

A request the client waits for by a fixed name, not an id (ib_async's and ib_insync's
"mktDepthExchanges"), can be ended by no error: whenever nothing else can answer it (no
family serves it, or its family has no layout at the connection's version) it gets its
answer, empty (EMPTY_ANSWERS).

A family that starts serving one of them takes its entry out of here (one line each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ibterm.sim.protocol import encode
from ibterm.sim.wire.layouts import Layouts


class Answer(Enum):
    REFUSED = "refused"  # error 505 on its request id
    SILENT = "silent"  # nothing


@dataclass(frozen=True, slots=True)
class Unserved:
    what: str
    answer: Answer = Answer.REFUSED


def _no_depth_exchanges() -> bytes:
    return encode(80, 0)  # mktDepthExchanges: none


EMPTY_ANSWERS: dict[int, Layouts[Callable[[], bytes]]] = {
    82: Layouts("mktDepthExchanges", {176: _no_depth_exchanges}),
}

_SILENT = Answer.SILENT

UNSERVED: dict[int, Unserved] = {
    12: Unserved("news bulletins"),
    13: Unserved("news bulletins", _SILENT),
    14: Unserved("server log level", _SILENT),
    18: Unserved("financial advisor data"),
    19: Unserved("financial advisor data"),
    21: Unserved("option exercise"),
    52: Unserved("fundamental data"),
    53: Unserved("fundamental data", _SILENT),
    54: Unserved("implied volatility calculation"),
    55: Unserved("option price calculation"),
    56: Unserved("implied volatility calculation", _SILENT),
    57: Unserved("option price calculation", _SILENT),
    67: Unserved("display groups"),
    68: Unserved("display groups"),
    69: Unserved("display groups", _SILENT),
    70: Unserved("display groups", _SILENT),
    74: Unserved("positions by model"),
    75: Unserved("positions by model", _SILENT),
    79: Unserved("soft dollar tiers"),
    80: Unserved("family codes"),
    81: Unserved("symbol search"),
    83: Unserved("SMART components"),
    84: Unserved("news articles"),
    86: Unserved("historical news"),
    88: Unserved("histogram data"),
    89: Unserved("histogram data", _SILENT),
    91: Unserved("market rules"),
    96: Unserved("historical ticks"),
    100: Unserved("WSH metadata"),
    101: Unserved("WSH metadata", _SILENT),
    102: Unserved("WSH event data"),
    103: Unserved("WSH event data", _SILENT),
    104: Unserved("user info"),
}


def unserved(msg_id: int) -> Unserved:
    """How `msg_id` is answered; a message unknown here is refused, named by its id."""
    return UNSERVED.get(msg_id) or Unserved(f"message {msg_id}")
