"""Version negotiation (176..178 served) and the layouts that differ below 177 and 178,
checked against the real decoders of ib_async 2.1.0 and ib_insync 0.9.86."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import struct

import ib_async
import ib_insync
import pytest

from ibterm.domain.instrument import Instrument
from ibterm.sim.order_records import OrderRequest, OrderView
from ibterm.sim.orders import SimOrder
from ibterm.sim.protocol import FrameDecoder, negotiate
from ibterm.sim.server import SimServer
from ibterm.sim.wire.layouts import Incoming, Layouts
from ibterm.sim.wire.orders import COMPLETED_ORDER, EXEC_DETAILS, OPEN_ORDER

MINE = ["accounts", "contracts", "errors", "market_data", "news", "orders", "scanner",
        "session", "unserved"]


@pytest.mark.parametrize(("low", "high", "version"), [
    (157, 178, 178), (157, 176, 176), (157, 177, 177), (176, 176, 176), (100, 200, 178),
    (157, 175, None), (179, 190, None), (177, 178, 178),
])
def test_the_version_is_the_clients_highest_from_176_to_178(low: int, high: int,
                                                            version: int | None) -> None:
    assert negotiate(low, high) == version


@pytest.mark.parametrize("module", MINE)
def test_every_message_has_a_layout_at_each_served_version(module: str) -> None:
    wire = importlib.import_module(f"ibterm.sim.wire.{module}")
    found = [*vars(wire).values()]
    found += [t for v in found if isinstance(v, dict) for t in v.values()]
    tables = [v.layouts if isinstance(v, Incoming) else v for v in found
              if isinstance(v, Layouts | Incoming)]
    assert tables
    for table in tables:
        for version in (176, 177, 178):
            table.at(version)


def _order(sim: SimServer) -> tuple[OrderView, Instrument]:
    inst = sim.world.instruments[265598]
    req = OrderRequest(order_id=5, contract=None, action="BUY", quantity=10,  # type: ignore[arg-type]
                       order_type="LMT", limit=200.0, aux=None, tif="DAY", oca_group="",
                       account="DU1234567", order_ref="r", transmit=True, parent_id=0,
                       outside_rth=False, oca_type=0, trail_stop_price=None,
                       trailing_percent=None, what_if=False)
    return SimOrder(req, 7, 1_000_000_001, inst, "DU1234567", quantity=10).view(), inst.instrument


class _Recorder:
    """A wrapper that records which of its methods the decoder called."""

    defaultTimezone = dt.UTC

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: self.calls.append(name)


def _decoded(lib, version: int, frame: bytes) -> list[str]:  # type: ignore[no-untyped-def]
    recorder = _Recorder()
    decoder = lib.decoder.Decoder(recorder, version)
    [fields] = FrameDecoder().feed(frame)
    decoder.interpret(fields)
    return recorder.calls


@pytest.mark.parametrize(("lib", "version"), [(ib_insync, 176), (ib_async, 176),
                                              (ib_async, 177), (ib_async, 178)])
def test_order_messages_decode_at_each_version(lib, version: int, sim: SimServer) -> None:  # type: ignore[no-untyped-def]
    view, inst = _order(sim)
    frames = {
        "openOrder": OPEN_ORDER.at(version)(view, inst),
        "completedOrder": COMPLETED_ORDER.at(version)(view, inst, "20261127 10:00:00"),
        "execDetails": EXEC_DETAILS.at(version)(-1, view, inst, "0000e0d5.1.01.01",
                                                "20261127 10:00:00 UTC", "BOT", 10, 200.0,
                                                10, 200.0),
    }
    for call, frame in frames.items():
        assert _decoded(lib, version, frame) == [call], call


async def _hello(port: int, versions: bytes) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", len(versions)) + versions)
    await writer.drain()
    decoder = FrameDecoder()
    frames: list[list[str]] = []
    while not frames:
        frames = decoder.feed(await asyncio.wait_for(reader.read(4096), 3))
    writer.close()
    return frames[0]


async def test_ib_insyncs_range_gets_176_and_a_range_below_176_is_refused(
        sim: SimServer) -> None:
    assert (await _hello(sim.port, b"v157..176"))[0] == "176"
    refused = await _hello(sim.port, b"v157..175")
    assert refused[:4] == ["4", "2", "-1", "503"]
    assert refused[4] == ("The TWS API client version range v157..175 is not supported: "
                          "this server speaks v176..178.")
