"""Running the simulator: in the foreground (`ibterm sim`) or in a background thread
(`ibterm demo`, out-of-loop tests), each with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import os
import secrets
import signal
import sys
import threading

from ibterm.sim import control
from ibterm.sim.scenario import Scenario
from ibterm.sim.server import SimServer


def apply_control_token(server: SimServer, generate: bool = False) -> str | None:
    """Give `server` its control token unless it has one: $IBTERM_SIM_CONTROL_TOKEN when
    set, else a fresh random one when `generate`. Returns a generated token (the caller
    must show it), None otherwise."""
    if server.control_token is not None:
        return None
    given = os.environ.get(control.TOKEN_ENV)
    if given:
        server.control_token = control.check_token(given)
        return None
    if generate:
        server.control_token = secrets.token_urlsafe(24)
        return server.control_token
    return None


async def serve_foreground(server: SimServer, generate_token: bool = False) -> None:
    """Serve until SIGINT/SIGTERM, then disconnect every client and return.

    The control token comes from `apply_control_token`. A generated one is written to
    stderr, never stdout (its one line is a stable contract), and before that line, so
    that a script which has read `listening on …` can already find it."""
    generated = apply_control_token(server, generate_token)
    await server.start()
    if generated is not None:
        sys.stderr.write(f"control token: {generated}\n")
        sys.stderr.flush()
    # The one line scripts wait for: the real address, flushed.
    sys.stdout.write(f"listening on {server.host}:{server.port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def address_in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE


class SimulatorThread:
    """A simulator on its own loop in a daemon thread; `start()` returns its port."""

    def __init__(self, scenario: Scenario | None = None, seed: int | None = None,
                 host: str = "127.0.0.1", port: int = 0, today: dt.date | None = None,
                 control_token: str | None = None):
        self.server = SimServer(scenario, seed=seed, host=host, port=port, today=today,
                                control_token=control_token)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def start(self, timeout: float = 10.0) -> int:
        self._thread = threading.Thread(target=self._run, name="ibterm-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulator did not start")
        if self._error is not None:
            raise self._error
        return self.server.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        """Run `fn(*args)` on the simulator's loop (thread-safe), e.g. `server.step`."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is None or self._stopped is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
