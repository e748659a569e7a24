"""Shared fixtures: isolated config/data directories and an in-process simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
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


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(manual_scenario(), seed=0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ib(sim: SimServer) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", sim.port, clientId=11, timeout=5)
    yield client
    client.disconnect()
