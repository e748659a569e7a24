"""Shared fixtures: isolated config/data directories and an in-process simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from ib_async import IB

from ibterm.sim.scenario import Scenario
from ibterm.sim.server import SimServer

SIM_DATE = dt.date(2026, 11, 27)

# The same examples on every machine, every run: derandomized, and no example database
# (a local .hypothesis/ replaying what it once found would make a local run differ from
# CI's). The number of examples stays each test's own.
settings.register_profile("ibterm", derandomize=True, database=None)
settings.load_profile("ibterm")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read or write the user's real config or data."""
    monkeypatch.setenv("IBTERM_CONFIG", str(tmp_path / "config" / "config.yaml"))
    monkeypatch.setenv("IBTERM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    yield


def manual_scenario(**changes: object) -> Scenario:
    """The default world on a pinned date, stepped only by the test (deterministic)."""
    base: dict[str, object] = {"date": SIM_DATE, "tick_interval": 0.0,
                               "account_update_interval": 0.2}
    base.update(changes)
    return Scenario(**base)  # type: ignore[arg-type]


def new_sim(scenario: Scenario | None = None, clock: Callable[[], float] | None = None,
            seed: int = 0) -> SimServer:
    """A simulator not yet started: `scenario` (the manual one by default), its market on
    `clock` (epoch seconds) when given, else on the wall clock."""
    server = SimServer(manual_scenario() if scenario is None else scenario, seed=seed)
    if clock is not None:
        server.market.clock = clock
    return server


@asynccontextmanager
async def running_sim(scenario: Scenario | None = None,
                      clock: Callable[[], float] | None = None,
                      seed: int = 0) -> AsyncIterator[SimServer]:
    """A started simulator (see `new_sim`), stopped on leaving."""
    server = new_sim(scenario, clock, seed)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def connected(server: SimServer, client_id: int) -> AsyncIterator[IB]:
    """An ib_async client connected to `server`, disconnected on leaving."""
    client = IB()
    await client.connectAsync("127.0.0.1", server.port, clientId=client_id, timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_sim() as server:
        yield server


@pytest.fixture
async def ib(sim: SimServer) -> AsyncIterator[IB]:
    async with connected(sim, 11) as client:
        yield client
