"""The simulator's faults as data: one vocabulary for the scenario's schedule and the
loopback control endpoint, both turned into calls of the `SimServer` fault API.

A fault is a mapping with a `fault` name and its parameters, e.g.
`{fault: bad_tick, symbol: AAPL, factor: 10}`. The scenario's `faults:` list adds when it
fires (`at`, seconds after the simulator starts) and optionally how often it repeats
(`every`, `count`). Reference: docs/simulator.md#fault-injection.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

import pydantic
from pydantic import Field


class FaultTarget(Protocol):
    """The fault API a fault acts on: `SimServer` implements it. Defined here, below the
    server, so that the scenario's schedule and the control endpoint never import it."""

    def drop(self, client_id: int | None = None) -> int: ...
    def restart(self) -> int: ...
    def connectivity(self, code: int) -> None: ...
    def stall(self, seconds: float) -> None: ...
    def delay(self, seconds: float) -> None: ...
    def bad_tick(self, con_id: int, factor: float = 10.0, crossed: bool = False) -> None: ...
    def reject_next_order(self, code: int = 201, message: str = ...) -> None: ...
    def con_id_of(self, symbol: str) -> int: ...


class _Fault(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    def apply(self, server: FaultTarget) -> object:
        raise NotImplementedError


class Drop(_Fault):
    fault: Literal["drop"]
    client_id: int | None = Field(None, description="only this client; default every one")

    def apply(self, server: FaultTarget) -> object:
        return {"dropped": server.drop(self.client_id)}


class Restart(_Fault):
    fault: Literal["restart"]

    def apply(self, server: FaultTarget) -> object:
        return {"dropped": server.restart()}


class Connectivity(_Fault):
    fault: Literal["connectivity"]
    code: Literal[1100, 1101, 1102]

    def apply(self, server: FaultTarget) -> object:
        server.connectivity(self.code)
        return None


class Stall(_Fault):
    fault: Literal["stall"]
    seconds: float = Field(ge=0, le=3600)

    def apply(self, server: FaultTarget) -> object:
        server.stall(self.seconds)
        return None


class Delay(_Fault):
    fault: Literal["delay"]
    seconds: float = Field(ge=0, le=3600, description="0 ends the delay")

    def apply(self, server: FaultTarget) -> object:
        server.delay(self.seconds)
        return None


class BadTick(_Fault):
    fault: Literal["bad_tick"]
    symbol: str = Field(min_length=1, description="an instrument of the scenario, e.g. AAPL")
    factor: float = Field(10.0, gt=0, description="the wrong price is last x factor")
    crossed: bool = Field(False, description="a bid above the ask instead of a wild last")

    def apply(self, server: FaultTarget) -> object:
        server.bad_tick(server.con_id_of(self.symbol), self.factor, self.crossed)
        return None


class RejectNextOrder(_Fault):
    fault: Literal["reject_next_order"]
    code: int = Field(201, ge=0, le=99_999)
    # No NUL: it separates the fields of a TWS API message.
    message: str = Field("Order rejected - reason:simulated rejection", max_length=2000,
                         pattern=r"^[^\x00]*$")

    def apply(self, server: FaultTarget) -> object:
        server.reject_next_order(self.code, self.message)
        return None


Fault = Annotated[Drop | Restart | Connectivity | Stall | Delay | BadTick | RejectNextOrder,
                  Field(discriminator="fault")]
FAULT_NAMES = ("drop", "restart", "connectivity", "stall", "delay", "bad_tick",
               "reject_next_order")
_adapter: pydantic.TypeAdapter[Fault] = pydantic.TypeAdapter(Fault)


def parse_fault(data: object) -> Fault:
    """Validate one fault mapping; raise pydantic.ValidationError."""
    return _adapter.validate_python(data)


class _Timing(pydantic.BaseModel):
    """When a scheduled fault fires: `at` seconds after start, then every `every` seconds,
    `count` times in all (default: once without `every`, forever with it)."""

    at: float = Field(ge=0, description="seconds after the simulator starts")
    every: float | None = Field(None, gt=0, description="repeat period in seconds")
    count: int | None = Field(None, ge=1, description="how many times in all")

    def times(self, horizon: float) -> list[float]:
        """When it fires, up to `horizon` seconds after start."""
        if self.every is None:
            return [self.at] if self.at <= horizon else []
        out: list[float] = []
        t = self.at
        while t <= horizon and (self.count is None or len(out) < self.count):
            out.append(t)
            t += self.every
        return out


# The schedule's entries are flat (`{at: 60, fault: drop}`), so each fault has a timed
# twin rather than a nested `fault:` mapping: errors then point at the right YAML line.
class ScheduledDrop(_Timing, Drop):
    pass


class ScheduledRestart(_Timing, Restart):
    pass


class ScheduledConnectivity(_Timing, Connectivity):
    pass


class ScheduledStall(_Timing, Stall):
    pass


class ScheduledDelay(_Timing, Delay):
    pass


class ScheduledBadTick(_Timing, BadTick):
    pass


class ScheduledRejectNextOrder(_Timing, RejectNextOrder):
    pass


Scheduled = Annotated[
    ScheduledDrop | ScheduledRestart | ScheduledConnectivity | ScheduledStall | ScheduledDelay
    | ScheduledBadTick | ScheduledRejectNextOrder,
    Field(discriminator="fault"),
]
