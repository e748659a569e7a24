"""How a family of requests plugs into a connection.

A family is a `Desk`: a class in its own module holding the handlers of its requests,
each marked `@serves(MESSAGE)` with the message's `Incoming` (sim/wire/), and the
per-connection state they keep (subscriptions). `ClientConnection` (server.py) is built
from the desks, and its dispatch table is `handlers(ClientConnection)`: adding a family
is one module here, its messages in sim/wire/, and one more base of ClientConnection
(and its entries out of wire/unserved.py).

Desks see the server through `Venue` and their connection through what `Desk` declares,
so no family imports the server, and the server imports every family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ibterm.sim.accounts import SimAccount
from ibterm.sim.market import Market
from ibterm.sim.orders import OrderEngine, OrderEvents
from ibterm.sim.wire.errors import ERROR
from ibterm.sim.wire.layouts import Incoming, Layouts
from ibterm.sim.world import World

L = TypeVar("L")
H = TypeVar("H", bound=Callable[..., None])
Handler = Callable[[Any, list[str]], None]


class Venue(Protocol):
    """What request handlers see of the server: the world and its books."""

    world: World
    market: Market
    accounts: dict[str, SimAccount]
    orders: OrderEngine
    next_order_id: int
    next_order_rejection: tuple[int, str] | None

    @property
    def market_open(self) -> bool: ...
    def publish(self, events: OrderEvents) -> None: ...
    def account_values(self, account: str) -> dict[str, float]: ...
    def market_data_line_free(self) -> bool: ...


class Desk(ABC):
    """One family's handlers and state on one connection."""

    server: Venue
    version: int  # the negotiated server version: which layouts to read and write
    client_id: int | None
    ready: bool
    _closed: bool

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Write to the client: now, or after a stall or a delay in force."""

    def layout(self, message: Layouts[L]) -> L:
        """`message`'s layout at this connection's version."""
        return message.at(self.version)

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(self.layout(ERROR)(req_id, code, text))


def serves(message: Incoming[Any]) -> Callable[[H], H]:
    """Mark a Desk method as the handler of `message`; it gets the frame's fields."""

    def mark(handler: H) -> H:
        handler.serves = message  # type: ignore[attr-defined]
        return handler

    return mark


def handlers(cls: type[Desk]) -> dict[int, Handler]:
    """The handler of each message id among `cls`'s desks; two for one id is an error."""
    table: dict[int, Handler] = {}
    names: dict[int, str] = {}
    for name in dir(cls):
        message = getattr(getattr(cls, name), "serves", None)
        if not isinstance(message, Incoming):
            continue
        if message.msg_id in table:
            raise TypeError(f"{message.name} ({message.msg_id}) is served twice: "
                            f"{names[message.msg_id]} and {name}")
        table[message.msg_id] = getattr(cls, name)
        names[message.msg_id] = name
    return table
