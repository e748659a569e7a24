"""A simulator whose clock the test sets: Friday 2026-11-27 at 11:00 New York time, inside
every instrument's regular hours, stepped only by the test. Shared by the tests of bars,
depth and tick-by-tick data."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, Contract, Stock

from ibterm.sim.server import SimServer
from tests.conftest import connected, new_sim, running_sim

NEW_YORK = ZoneInfo("America/New_York")
OPENING_HOUR = dt.datetime(2026, 11, 27, 11, 0, tzinfo=NEW_YORK)
AAPL = Stock("AAPL", "SMART", "USD")


class Clock:
    """The simulated time, in epoch seconds, moved by the test."""

    def __init__(self, at: dt.datetime = OPENING_HOUR) -> None:
        self.t = at.timestamp()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


async def clocked_server(seed: int = 0, clock: Clock | None = None) -> SimServer:
    """A started simulator on `clock` (a new one at OPENING_HOUR by default); the caller
    stops it."""
    server = new_sim(clock=clock or Clock(), seed=seed)
    await server.start()
    return server


@pytest.fixture
async def clocked() -> AsyncIterator[SimServer]:
    async with running_sim(clock=Clock()) as server:
        yield server


@pytest.fixture
async def client(clocked: SimServer) -> AsyncIterator[IB]:
    async with connected(clocked, 21) as ib:
        yield ib


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


async def qualified(ib: IB, contract: Contract = AAPL) -> Contract:
    [found] = await ib.qualifyContractsAsync(contract)
    return found
