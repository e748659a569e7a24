"""The feeder process of the tick benches (ticks.py, chain.py): the simulator in a child
process, answering the consumer's commands on a pipe and replaying pre-encoded frames over
the socket at a controlled rate or flat out.

The commands: ("prepare", client_id, *args) builds the frames for that client's
subscriptions (the bench's `frames` function, given the server, the client's connection
and args; None while not subscribed to everything yet) and answers their count, 0 to be
asked again; ("blast", count, rate) replays `count` frames (rate 0: flat out) and answers
(monotonic time at the end, seconds sending, the feeder's CPU seconds); ("stop",).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Protocol

from ibterm.sim.scenario import Scenario
from ibterm.sim.server import ClientConnection, SimServer

Frames = Callable[..., list[bytes] | None]  # (server, conn, *args)


async def feed(pipe: Connection, scenario: Scenario, frames_for: Frames) -> None:
    server = SimServer(scenario, seed=1)
    await server.start()
    pipe.send(server.port)
    loop = asyncio.get_running_loop()
    frames: list[bytes] = []
    conn = None
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        kind = command[0]
        if kind == "prepare":
            conn = server.client(command[1])
            prepared = None if conn is None else frames_for(server, conn, *command[2:])
            if prepared is None:
                pipe.send(0)  # not subscribed to everything yet: ask again
                continue
            frames = prepared
            pipe.send(len(frames))
        elif kind == "blast":
            _, count, rate = command
            assert conn is not None
            cpu0, t0 = time.process_time(), time.monotonic()
            await send(conn, frames, count, rate)
            pipe.send((time.monotonic(), time.monotonic() - t0, time.process_time() - cpu0))
        elif kind == "stop":
            await server.stop()
            return


class Counted(Protocol):
    """What a consumer counts: the frames handled, and when the last was (monotonic)."""

    count: int
    last: float


async def blast(pipe: Connection, counter: Counted, count: int, rate: float) -> tuple[int, float]:
    """Has the feeder replay `count` frames at `rate` (0: flat out) and waits until the
    consumer has handled them all, or 10 s after the last was sent: how many it handled,
    and its lag, from the last sent to the last handled."""
    start = counter.count
    pipe.send(("blast", count, rate))
    sent_at, _send_s, _feeder_cpu = await asyncio.get_running_loop().run_in_executor(
        None, pipe.recv)
    deadline = sent_at + 10
    while counter.count - start < count and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return counter.count - start, max(0.0, counter.last - sent_at)


async def send(conn: ClientConnection, frames: list[bytes], count: int, rate: float) -> None:
    """`count` of `frames`, round and round: `rate` a second, or flat out when 0."""
    writer = conn.writer
    n = len(frames)
    sent = 0
    if rate <= 0:
        batch = 2000
        while sent < count:
            k = min(batch, count - sent)
            start = sent % n
            chunk = frames[start:start + k] if start + k <= n else (
                frames[start:] + frames[: k - (n - start)])
            writer.write(b"".join(chunk))
            sent += k
            await writer.drain()
        return
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    slice_s = 0.005
    while sent < count:
        due = min(count, int((loop.time() - t0) * rate) + 1)
        if due > sent:
            k = due - sent
            start = sent % n
            chunk = [frames[(start + i) % n] for i in range(k)]
            writer.write(b"".join(chunk))
            sent = due
            await writer.drain()
        await asyncio.sleep(slice_s)
