"""The simulator against hostile or broken peers on its port: connections that never
finish the handshake, oversized or abandoned frames. A real ib_async client must keep
being served throughout (issue #11)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ib_async import IB, Stock

from ibterm.sim import control
from ibterm.sim.protocol import MAX_CLIENT_FRAME, FrameDecoder, encode
from ibterm.sim.server import ClientConnection, SimServer
from tests.conftest import manual_scenario

# Short, so that the tests are quick; the default is 5 s.
TIMEOUT = 0.3
VERSION = b"v157..178"


@pytest.fixture
async def quick() -> AsyncIterator[SimServer]:
    server = SimServer(manual_scenario(), seed=0, handshake_timeout=TIMEOUT)
    await server.start()
    yield server
    await server.stop()


async def _closed_by_server(reader: asyncio.StreamReader, within: float = 3.0) -> bytes:
    """Read to EOF; fails (TimeoutError) if the server keeps the connection open."""
    return await asyncio.wait_for(reader.read(), within)


async def _open(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if data:
        writer.write(data)
        await writer.drain()
    return reader, writer


@pytest.mark.parametrize("sent", [
    b"",                                                  # nothing at all
    b"AP",                                                # part of the prefix
    b"API\0",                                             # the prefix, then silence
    b"API\0" + struct.pack(">I", len(VERSION)) + b"v15",  # part of the version frame
    b"API\0\0\0",                                         # part of a frame header
    b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n",       # a control request never ended
])
async def test_a_handshake_that_never_ends_is_closed(quick: SimServer, sent: bytes) -> None:
    reader, writer = await _open(quick.port, sent)
    try:
        assert await _closed_by_server(reader) == b""
        assert quick.connections == []
    finally:
        writer.close()


async def test_no_start_api_after_the_version_answer_is_closed(quick: SimServer) -> None:
    reader, writer = await _open(quick.port, b"API\0" + struct.pack(">I", len(VERSION))
                                 + VERSION)
    try:
        [fields] = FrameDecoder().feed(await _closed_by_server(reader))
        assert fields[0] == "178"  # it was answered, then closed for want of startApi
        assert quick.connections == []
    finally:
        writer.close()


async def test_clients_past_the_handshake_or_held_by_a_stall_are_kept(
        quick: SimServer) -> None:
    ib = IB()
    await ib.connectAsync("127.0.0.1", quick.port, clientId=5, timeout=5)
    late = IB()
    try:
        stuck, stuck_writer = await _open(quick.port, b"API\0")
        await asyncio.sleep(TIMEOUT * 4)  # idle well past the handshake timeout
        assert ib.isConnected() and [c.client_id for c in quick.connections] == [5]
        assert await _closed_by_server(stuck) == b""  # while the silent one was closed
        stuck_writer.close()
        assert (await ib.reqCurrentTimeAsync()) is not None
        # A client cannot answer before it has the server's version: a stall longer than
        # the timeout must not make the simulator drop the clients it keeps waiting.
        quick.stall(TIMEOUT * 3)
        await late.connectAsync("127.0.0.1", quick.port, clientId=6, timeout=5)
        assert late.isConnected() and ib.isConnected()
    finally:
        late.disconnect()
        ib.disconnect()


# --- frames: size cap, buffers ----------------------------------------------------------
# The largest frame the TWS API allows (16 MiB - 1), which the simulator used to accept:
# what the 40 connections announced.
HUGE = 0xFFFFFF


async def _wait_for(predicate: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def _api_client(server: SimServer, client_id: int) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter, ClientConnection]:
    """A raw client past startApi, and the simulator's side of it."""
    reader, writer = await _open(server.port, b"API\0" + struct.pack(">I", len(VERSION))
                                 + VERSION + encode(71, 2, client_id, ""))
    await _wait_for(lambda: server.client(client_id) is not None)
    conn = server.client(client_id)
    assert conn is not None and conn.ready
    return reader, writer, conn


async def _refused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   data: bytes) -> None:
    """Send `data` and expect the server to close the connection: EOF or a reset."""
    with contextlib.suppress(ConnectionError):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(ConnectionError):
        while await _closed_by_server(reader):
            pass
    writer.close()


async def test_oversized_frames_are_refused_at_their_header_while_a_client_is_served(
        sim: SimServer, ib: IB) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktData(aapl)
    oversized = struct.pack(">I", HUGE) + bytes(64 * 1024)
    attackers = []
    for _ in range(4):  # before the handshake: the version frame itself is oversized
        reader, writer = await _open(sim.port, b"API\0")
        attackers.append(_refused(reader, writer, oversized))
    for i in range(4):  # after it
        reader, writer, _ = await _api_client(sim, 100 + i)
        attackers.append(_refused(reader, writer, oversized))
    # Each is closed after its header: none waits for the 16 MiB it announced.
    await asyncio.wait_for(asyncio.gather(*attackers), 5)
    assert [c.client_id for c in sim.connections] == [11]
    # The real client was served all along and still is.
    volume = ticker.volume
    sim.step(5)
    await _wait_for(lambda: ticker.volume != volume)
    assert ib.isConnected() and await ib.reqCurrentTimeAsync() is not None
    # A frame of exactly the cap is a message, not an attack: answered, not closed.
    reader, writer, conn = await _api_client(sim, 120)
    payload = b"9999\0" + b"x" * (MAX_CLIENT_FRAME - 6) + b"\0"
    writer.write(struct.pack(">I", len(payload)) + payload)
    await writer.drain()
    answer = FrameDecoder()
    while not any(f[0] == "4" and f[3] == "505" for f in answer.feed(await reader.read(4096))):
        pass
    assert not conn._closed and conn.decoder.pending == 0
    writer.close()


async def test_a_connection_closed_mid_frame_frees_its_buffer(sim: SimServer) -> None:
    reader, writer, conn = await _api_client(sim, 21)
    writer.write(struct.pack(">I", 200_000) + bytes(100_000))
    await writer.drain()
    await _wait_for(lambda: conn.decoder.pending >= 100_000)
    writer.close()
    await _wait_for(lambda: conn not in sim.connections)
    # Freed when the peer went, even though this test still holds the connection object.
    assert conn.decoder.pending == 0


async def test_a_frame_left_unfinished_is_closed_idle_clients_are_not(
        quick: SimServer) -> None:
    ib = IB()
    await ib.connectAsync("127.0.0.1", quick.port, clientId=5, timeout=5)
    try:
        reader, writer, conn = await _api_client(quick, 22)
        writer.write(encode(49, 1) + struct.pack(">I", 1000) + b"partial")
        await writer.drain()
        assert await _closed_by_server(reader) != b""  # answered, then closed
        writer.close()
        assert conn.decoder.pending == 0
        await asyncio.sleep(TIMEOUT * 2)
        assert ib.isConnected() and [c.client_id for c in quick.connections] == [5]
    finally:
        ib.disconnect()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_forty_oversized_frames_do_not_grow_the_simulator() -> None:
    """The issue's measurement, scaled down: 40 connections each start an oversized frame
    and send 4 MiB of it. Unfixed, the simulator buffered all of it (160 MiB and more);
    now each is closed at its header. The threshold is far from either outcome."""
    proc = subprocess.Popen([sys.executable, "-m", "ibterm", "sim", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items()
                                 if k != control.TOKEN_ENV})
    sockets: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        control.call(port, "/status")
        before = _rss_kib(proc.pid)
        chunk = bytes(4 * 1024 * 1024)
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
            with contextlib.suppress(OSError):  # reset once the simulator has refused it
                sock.sendall(b"API\0" + struct.pack(">I", HUGE) + chunk)
        time.sleep(0.5)
        grown_mib = (_rss_kib(proc.pid) - before) / 1024
        assert grown_mib < 48, f"RSS grew by {grown_mib:.0f} MiB"
        assert control.call(port, "/status")["connections"] == 0
    finally:
        for sock in sockets:
            sock.close()
        proc.terminate()
        proc.wait(10)
