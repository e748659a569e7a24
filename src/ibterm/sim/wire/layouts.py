"""Messages keyed by server version: each message's layouts live in one table, so that an
older layout (ib_insync 0.9.86 is served at 176) is one more entry beside the current.

A layout is filed under the oldest server version it is written for; a connection uses
the newest layout at or below the version it negotiated. Most messages have one layout,
filed under 176 (`protocol.MIN_SERVED_VERSION`, which keeps older clients out); the few
that change between 176 and 178 have one entry per shape (wire/orders.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

L = TypeVar("L")
R = TypeVar("R")


class UnservedVersion(Exception):
    """A message has no layout as old as the version asked for."""


class Layouts(Generic[L]):
    """One message's layouts by the oldest server version each is written for."""

    def __init__(self, message: str, by_version: Mapping[int, L]) -> None:
        if not by_version:
            raise ValueError(f"{message} needs at least one layout")
        self.message = message
        self._by_version = dict(sorted(by_version.items()))
        # Resolved once per version: streaming looks a layout up for every tick.
        self._chosen: dict[int, L] = {}

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(self._by_version)

    def at(self, version: int) -> L:
        """The layout a connection at server version `version` reads or writes."""
        layout = self._chosen.get(version)
        if layout is None:
            older = [v for v in self._by_version if v <= version]
            if not older:
                raise UnservedVersion(f"{self.message} has no layout for server version "
                                      f"{version} (the oldest is v{self.versions[0]})")
            layout = self._chosen[version] = self._by_version[older[-1]]
        return layout


class Incoming(Generic[R]):
    """A client-to-server message: its id, and its layouts, each a reader from the frame's
    fields to what the request asks."""

    def __init__(self, msg_id: int, name: str,
                 by_version: Mapping[int, Callable[[list[str]], R]]) -> None:
        self.msg_id = msg_id
        self.layouts = Layouts(name, by_version)

    @property
    def name(self) -> str:
        return self.layouts.message

    def read(self, version: int, fields: list[str]) -> R:
        """What the request asks; IndexError or ValueError when its fields do not fit."""
        return self.layouts.at(version)(fields)
