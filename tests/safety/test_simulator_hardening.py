"""The simulator against hostile or broken peers on its port: connections that never
finish the handshake, oversized or abandoned frames. A real ib_async client must keep
being served throughout (issue #11)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from ib_async import IB

from ibterm.sim.protocol import FrameDecoder
from ibterm.sim.server import SimServer
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
