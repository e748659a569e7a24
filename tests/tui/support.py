"""Helpers for Pilot tests: an app on the test simulator, and waiting for the screen."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from ibterm.broker.session import BrokerSession
from ibterm.config.settings import Profile
from ibterm.domain.connection import TradingMode
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp


def make_app(sim: SimServer, client_id: int, watchlist: list[str],
             **profile: object) -> IbtermApp:
    settings: dict[str, object] = {"port": sim.port, "client_id": client_id,
                                   "watchlist": watchlist}
    settings.update(profile)
    session = BrokerSession(Profile(**settings), "demo", TradingMode.DEMO)  # type: ignore[arg-type]
    return IbtermApp(session)


async def until(pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the screen never showed it")
        await pilot.pause(0.05)
