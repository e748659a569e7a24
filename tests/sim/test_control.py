"""The loopback control endpoint and the scenario's fault schedule."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ib_async import IB, Contract

from ibterm.config import yamlfile
from ibterm.sim import control
from ibterm.sim.scenario import Scenario
from ibterm.sim.server import SimServer
from ibterm.sim.world import load_scenario
from tests.conftest import SIM_DATE, manual_scenario

AAPL = Contract(conId=265598, exchange="SMART")


async def _http(port: int, request: bytes) -> tuple[int, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 3)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _post(path: str, body: object, content_type: str = "application/json") -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


async def test_status_and_orders(sim: SimServer, ib: IB) -> None:
    code, body = await _http(sim.port, b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert code == 200 and body["clients"] == [11] and body["orders"] == 0
    code, body = await _http(sim.port, b"GET /orders HTTP/1.1\r\n\r\n")
    assert code == 200 and body == []


async def test_a_fault_over_http_reaches_the_client(sim: SimServer, ib: IB) -> None:
    ticker = ib.reqMktData(AAPL)
    sim.step()
    deadline = time.monotonic() + 3
    while not ticker.last > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    real = ticker.last
    code, body = await _http(sim.port, _post("/faults/bad_tick", {"symbol": "AAPL",
                                                                  "factor": 10}))
    assert (code, body["ok"]) == (200, True)
    while not ticker.last > real * 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert ticker.last > real * 5
    code, body = await _http(sim.port, _post("/faults/drop", {"client_id": 11}))
    assert body["result"] == {"dropped": 1}


@pytest.mark.parametrize(("request_bytes", "status", "says"), [
    (_post("/faults/bad_tick", {"symbol": "NOPE"}), 400, "not an instrument"),
    (_post("/faults/stall", {"seconds": -1}), 400, "seconds"),
    (_post("/faults/stall", {"seconds": 1, "extra": 2}), 400, "extra"),
    (_post("/faults/connectivity", {"code": 1234}), 400, "code"),
    (_post("/faults/explode", {}), 404, "no fault 'explode'"),
    (_post("/faults/drop", {}, "text/plain"), 415, "application/json"),
    (b"POST /faults/restart HTTP/1.1\r\nContent-Type: text/plain\r\n"
     b"Content-Length: 0\r\n\r\n", 415, "application/json"),
    (b"GET /status HTTP/1.1\r\nOrigin: http://evil.example\r\n\r\n", 403, "web pages"),
    (_post("/faults/reject_next_order", {"message": "a\u0000b"}), 400, "message"),
    (_post("/faults/reject_next_order", {"code": 10**30}), 400, "code"),
    (b"POST /faults/drop HTTP/1.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 3\r\n\r\n{x}", 400, "not JSON"),
    (b"GET /faults/drop HTTP/1.1\r\n\r\n", 405, "POST"),
    (b"GET /nowhere HTTP/1.1\r\n\r\n", 404, "no route"),
])
async def test_bad_requests_are_refused_clearly(sim: SimServer, ib: IB, request_bytes: bytes,
                                                status: int, says: str) -> None:
    code, body = await _http(sim.port, request_bytes)
    assert code == status and says in str(body["error"]) and body["ok"] is False
    assert ib.isConnected() and sim.hold_until == 0.0


FOREIGN_HOSTS = [
    "attacker.example", "attacker.example:7497", "127.0.0.1.attacker.example",
    "localhost.attacker.example", "10.0.0.1", "[::2]:7497", "0.0.0.0", "", "[::1",
    "127.0.0.1:", "127.0.0.1:port", "[::1]x",
]
LOOPBACK_HOSTS = [
    "127.0.0.1", "127.0.0.1:7497", "127.8.9.10:1", "localhost", "LOCALHOST:7497",
    "[::1]", "[::1]:7497", "::1", "[0:0:0:0:0:0:0:1]:80",
]


async def test_dns_rebinding_only_loopback_hosts_are_answered(sim: SimServer,
                                                              ib: IB) -> None:
    # What a page on attacker.example sends once its name resolves to 127.0.0.1: no
    # Origin (a same-origin GET), its own name as Host.
    for host in FOREIGN_HOSTS:
        for path in ("/status", "/orders", "/faults"):
            code, body = await _http(
                sim.port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert (host, code, body["ok"]) == (host, 403, False)
            assert "loopback" in str(body["error"])
    for host in LOOPBACK_HOSTS:
        code, body = await _http(
            sim.port, f"GET /status HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert (host, code) == (host, 200)
    # curl sends `Host: 127.0.0.1:PORT` or `localhost:PORT`; http.client (call()) too.
    if shutil.which("curl"):
        for name in ("127.0.0.1", "localhost"):
            proc = await asyncio.create_subprocess_exec(
                "curl", "-s", "-4", f"http://{name}:{sim.port}/status",
                stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
            assert json.loads(out)["port"] == sim.port
    loop = asyncio.get_running_loop()
    status = await loop.run_in_executor(None, control.call, sim.port, "/status")
    assert status["port"] == sim.port


async def test_dns_rebinding_posts_are_refused_and_change_nothing(sim: SimServer,
                                                                  ib: IB) -> None:
    request = _post("/faults/stall", {"seconds": 5}).replace(
        b"Host: 127.0.0.1", b"Host: attacker.example")
    code, _ = await _http(sim.port, request)
    assert code == 403 and sim.hold_until == 0.0 and ib.isConnected()


async def test_two_host_headers_are_refused(sim: SimServer) -> None:
    code, body = await _http(sim.port, b"GET /orders HTTP/1.1\r\nHost: attacker.example\r\n"
                                       b"Host: 127.0.0.1\r\n\r\n")
    assert code == 400 and "host" in str(body["error"])


TOKEN = "s3cret-Token_1"


async def test_a_control_token_guards_every_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(control.TOKEN_ENV, raising=False)
    server = SimServer(manual_scenario(), seed=0, control_token=TOKEN)
    await server.start()
    loop = asyncio.get_running_loop()
    try:
        for auth in ("", "Authorization: Bearer wrong\r\n", f"Authorization: Basic {TOKEN}\r\n",
                     f"Authorization: Bearer {TOKEN}x\r\n", "Authorization: Bearer\r\n"):
            for path in ("/status", "/orders", "/faults"):
                code, body = await _http(server.port, (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n").encode())
                assert (auth, code) == (auth, 401) and "token" in str(body["error"])
            code, _ = await _http(server.port, _post("/faults/stall", {"seconds": 5}).replace(
                b"\r\n\r\n", f"\r\n{auth}\r\n".encode(), 1))
            assert (auth, code) == (auth, 401) and server.hold_until == 0.0
        # The answer says which scheme it wants.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 3)
        writer.close()
        assert b'\r\nWWW-Authenticate: Bearer realm="ibterm-sim"\r\n' in raw
        code, body = await _http(server.port, _post("/faults/stall", {"seconds": 0.5}).replace(
            b"\r\n\r\n", f"\r\nAuthorization: bearer {TOKEN}\r\n\r\n".encode(), 1))
        assert code == 200 and body["ok"] is True and server.hold_until > 0
        # call(): the token as an argument, or from the environment, else a 401.
        status = await loop.run_in_executor(
            None, lambda: control.call(server.port, "/status", token=TOKEN))
        assert status["port"] == server.port
        with pytest.raises(control.ControlError) as err:
            await loop.run_in_executor(None, control.call, server.port, "/orders")
        assert err.value.status == 401
        monkeypatch.setenv(control.TOKEN_ENV, TOKEN)
        answer = await loop.run_in_executor(
            None, control.call, server.port, "/faults/delay", {"seconds": 0})
        assert answer["ok"] is True
    finally:
        await server.stop()


@pytest.mark.parametrize("token", ["", "has space", "new\nline", "caf\u00e9"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="control token"):
        SimServer(manual_scenario(), control_token=token)


async def test_the_schedule_fires_in_order() -> None:
    scenario = manual_scenario(faults=[
        {"at": 0.1, "fault": "connectivity", "code": 1100},
        {"at": 0.3, "every": 0.2, "count": 2, "fault": "connectivity", "code": 1102},
    ])
    server = SimServer(scenario, seed=0)
    await server.start()
    ib = IB()
    seen: list[tuple[float, int]] = []
    try:
        await ib.connectAsync("127.0.0.1", server.port, clientId=3, timeout=5)
        started = time.monotonic()
        ib.errorEvent += lambda r, code, m, c: seen.append((time.monotonic() - started, code))
        await asyncio.sleep(1.0)
    finally:
        ib.disconnect()
        await server.stop()
    assert [c for _, c in seen if c in (1100, 1102)] == [1100, 1102, 1102]


def test_schedule_errors_are_located(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("date: 2026-11-27\nfaults:\n  - at: 5\n    fault: bad_tick\n"
                    "    symbol: AAPL\n    factor: -3\n  - at: 7\n    fault: bad_tick\n"
                    "    symbol: ZZZZ\n")
    with pytest.raises(yamlfile.FileProblems) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}:6:13: faults.0.factor:")
    path.write_text("faults:\n  - at: 5\n    fault: bad_tick\n    symbol: ZZZZ\n")
    with pytest.raises(yamlfile.FileProblems) as err:
        load_scenario(path)
    assert f"{path}:4:13:" in str(err.value) and "ZZZZ" in str(err.value)
    path.write_text("faults:\n  - at: 5\n    fault: explode\n")
    with pytest.raises(yamlfile.FileProblems) as err:
        load_scenario(path)
    assert f"{path}:3:" in str(err.value)


def test_ibterm_sim_takes_faults_from_outside(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"date: {SIM_DATE}\ntick_interval: 0\n")
    proc = subprocess.Popen([sys.executable, "-m", "ibterm", "sim", "--port", "0",
                             "--scenario", str(scenario)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        assert control.call(port, "/faults/stall", {"seconds": 0.5})["ok"] is True
        assert control.call(port, "/status")["faults"]["stalled_for"] > 0
        with pytest.raises(control.ControlError) as err:
            control.call(port, "/faults/delay", {"seconds": "soon"})
        assert err.value.status == 400
    finally:
        proc.terminate()
        assert proc.wait(5) == 0


def test_scenario_faults_are_validated_as_data() -> None:
    scenario = Scenario(faults=[{"at": 1, "fault": "restart"}])  # type: ignore[list-item]
    assert scenario.faults[0].times(10) == [1.0]


@pytest.mark.parametrize("path", sorted(Path("examples/scenarios").glob("*.yaml")))
def test_shipped_scenarios_load(path: Path) -> None:
    assert load_scenario(path).instruments
