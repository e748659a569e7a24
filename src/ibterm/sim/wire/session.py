"""The session's own messages: the handshake's answer, startApi (71) and reqCurrentTime
(49) with its answer. The version range the client opens with is read by
protocol.parse_version_range: it comes before any version is agreed."""

from __future__ import annotations

from ibterm.sim.protocol import encode
from ibterm.sim.wire.fields import int_field, nothing
from ibterm.sim.wire.layouts import Incoming, Layouts

START_API = Incoming(71, "startApi", {176: int_field(2)})  # the client id
REQ_CURRENT_TIME = Incoming(49, "reqCurrentTime", {176: nothing})


def server_hello(version: int, stamp: str) -> bytes:
    """The handshake's answer: the negotiated version and the connection time."""
    return encode(version, stamp)


def current_time(epoch: int) -> bytes:
    return encode(49, 1, epoch)


SERVER_HELLO = Layouts("serverVersion", {176: server_hello})
CURRENT_TIME = Layouts("currentTime", {176: current_time})
