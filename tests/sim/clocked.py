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
from tests.conftest import manual_scenario

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
    server = SimServer(manual_scenario(), seed=seed)
    server.market.clock = clock or Clock()
    await server.start()
    return server


@pytest.fixture
async def clocked() -> AsyncIterator[SimServer]:
    server = await clocked_server()
    yield server
    await server.stop()


@pytest.fixture
async def client(clocked: SimServer) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", clocked.port, clientId=21, timeout=5)
    yield ib
    ib.disconnect()


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


async def qualified(ib: IB, contract: Contract = AAPL) -> Contract:
    [found] = await ib.qualifyContractsAsync(contract)
    return found
