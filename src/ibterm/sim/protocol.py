"""TWS API framing: 4-byte big-endian length, then NUL-terminated text fields."""

from __future__ import annotations

import math
import struct

# The TWS API's own limit (ibapi's MAX_MSG_LEN, 16 MiB - 1): what a client may have to
# accept from a server, whose historical data and scanner answers can be large.
MAX_FRAME = 0xFFFFFF
# What the simulator accepts from a client. Client messages are small: a simple order is
# about 190 bytes and the heaviest ib_async 2.1 message one can build (placeOrder for a
# 20-leg combo with 20 algo parameters and 10 conditions) about 1.6 KB. 256 KiB is over
# 150 times that, yet bounds what a peer can make the simulator buffer: 16 MiB frames from
# 40 connections took the simulator from 78 to 729 MB of RSS (issue #11).
MAX_CLIENT_FRAME = 256 * 1024
# The versions whose layouts every message has (sim/wire/layouts.py): 178, ib_async 2.1's
# maximum, down to 176, ib_insync 0.9.86's. Below 176 messages change shape again (the
# contract details at 164, the error at 166, …): announcing less would promise layouts
# this server does not write. MIN_SERVED_VERSION comes down as the older layouts are added.
MAX_SERVER_VERSION = 178
MIN_SERVED_VERSION = 176
API_PREFIX = b"API\0"

Field = str | int | float | bool | None


class FrameError(Exception):
    """The peer sent bytes that cannot be a TWS API frame: the connection must close."""


def format_field(value: Field) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def encode(*fields: Field) -> bytes:
    payload = "".join(format_field(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages out."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_frame

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held: at most 4 + max_frame - 1."""
        return len(self._buffer)

    def clear(self) -> None:
        """Drop what is buffered (the connection is gone) and the memory that held it."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[list[str]]:
        """The whole messages `data` completes. FrameError on a bad length, raised as soon
        as the 4-byte header is in: an oversized frame is refused, never buffered."""
        messages: list[list[str]] = []
        buf = self._buffer
        view: bytes | bytearray
        if buf:
            buf += data
            view = buf
        else:
            # Nothing pending (the usual case): decode from `data` itself, copy only a
            # trailing partial frame.
            view = data
        offset = 0
        while len(view) - offset >= 4:
            (length,) = struct.unpack_from(">I", view, offset)
            if length == 0 or length > self._max:
                self.clear()
                raise FrameError(f"bad frame length {length} (at most {self._max})")
            end = offset + 4 + length
            if len(view) < end:
                break
            payload = bytes(view[offset + 4 : end])
            offset = end
            messages.append(split_fields(payload))
        if offset == len(view):
            # A fresh buffer, not an emptied one: a bytearray keeps the capacity it grew.
            self._buffer = bytearray()
        elif view is buf:
            del buf[:offset]
        else:
            self._buffer = bytearray(view[offset:])
        return messages


def split_fields(payload: bytes) -> list[str]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"frame is not UTF-8 text: {exc.reason}") from None
    if not text.endswith("\0"):
        # The handshake's version string is the one frame without a trailing NUL.
        return [text]
    return text[:-1].split("\0")


def parse_version_range(text: str) -> tuple[int, int]:
    """Parse the client's `v157..178[ +OPTIONS]` (or a bare `v176`)."""
    spec = text.split(" ", 1)[0]
    if not spec.startswith("v"):
        raise FrameError(f"expected a version range like v157..178, got {text[:40]!r}")
    lo, sep, hi = spec[1:].partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError:
        raise FrameError(f"bad version range {text[:40]!r}") from None
    if low > high:
        raise FrameError(f"bad version range {text[:40]!r}")
    return low, high


def negotiate(low: int, high: int) -> int | None:
    """The version to announce, min(client max, 178), or None when that is below the
    client's minimum or below 176."""
    version = min(high, MAX_SERVER_VERSION)
    if version < low or version < MIN_SERVED_VERSION:
        return None
    return version
