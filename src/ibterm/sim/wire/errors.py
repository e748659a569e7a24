"""The error message (4): IB's errors, warnings and notices, for a request or for all."""

from __future__ import annotations

from ibterm.sim.protocol import encode
from ibterm.sim.wire.layouts import Layouts


def error(req_id: int, code: int, message: str) -> bytes:
    return encode(4, 2, req_id, code, message, "")


ERROR = Layouts("error", {176: error})
