"""Single fields read before (or without) a message's own layout: request ids."""

from __future__ import annotations

from collections.abc import Callable


def int_at(fields: list[str], index: int) -> int:
    """The integer at `index`, or -1 when it is missing or not a number."""
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return -1


def request_id(msg_id: int, fields: list[str]) -> int:
    """Where an error about a request names it: placeOrder and the messages from 78 on
    carry no version field, so their id is field 1; the older ones have it at 2."""
    return int_at(fields, 1 if msg_id >= 78 or msg_id == 3 else 2)


def int_field(index: int) -> Callable[[list[str]], int]:
    """A reader for a message whose one field of interest is the integer at `index`."""

    def read(fields: list[str]) -> int:
        return int(fields[index])

    return read


def nothing(fields: list[str]) -> None:
    """The reader of a message that asks nothing beyond its id."""
