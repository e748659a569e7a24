"""`ibterm sim` as a separate process: the stable command-line contract."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ibterm.sim.protocol import FrameDecoder

IBTERM = [sys.executable, "-m", "ibterm"]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*IBTERM, "sim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def test_port_zero_prints_the_real_port_once_and_serves() -> None:
    proc = _start("--port", "0", "--seed", "3")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        host, port = line.strip().removeprefix("listening on ").rsplit(":", 1)
        assert line.startswith("listening on ") and host == "127.0.0.1" and int(port) > 0
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            version = b"v157..178"
            sock.sendall(b"API\0" + len(version).to_bytes(4, "big") + version)
            [fields] = FrameDecoder().feed(sock.recv(1000))
            assert fields[0] == "178"
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert out == ""  # exactly one line, nothing after it
    finally:
        proc.kill()


def test_sigint_exits_zero() -> None:
    proc = _start("--port", "0")
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.returncode == 0
    finally:
        proc.kill()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    result = subprocess.run([*IBTERM, "sim", "--host", host, "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "loopback" in result.stderr and "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([*IBTERM, "sim", "--port", str(port)], capture_output=True,
                                text=True, timeout=30)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_scenario_is_reported_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tick_interval: fast\n")
    result = subprocess.run([*IBTERM, "sim", "--port", "0", "--scenario", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:1:16: tick_interval:")
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = subprocess.run([*IBTERM, "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("ibterm ")


def _control(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return int(answer.split()[1])


def _stall(token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /faults/stall HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
            "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
            '{"seconds": 0.1}').encode()


def test_a_control_token_from_the_environment() -> None:
    token = "from-the-env-42"
    proc = subprocess.Popen([*IBTERM, "sim", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "IBTERM_SIM_CONTROL_TOKEN": token})
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        assert _control(port, _stall(None)) == 401
        assert _control(port, _stall("wrong")) == 401
        assert _control(port, _stall(token)) == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        # stdout keeps its one line; a token the user chose is not echoed anywhere.
        assert proc.returncode == 0 and out == "" and token not in err
    finally:
        proc.kill()


def test_a_generated_control_token_goes_to_stderr_only() -> None:
    env = {k: v for k, v in os.environ.items() if k != "IBTERM_SIM_CONTROL_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "ibterm", "sim", "--port", "0",
                             "--control-token"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        # Written before the stdout line, so it is there once that line has been read.
        token = proc.stderr.readline().strip().removeprefix("control token: ")
        assert len(token) >= 32 and token not in line
        assert _control(port, _stall(None)) == 401
        assert _control(port, _stall(token)) == 200
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and out == ""
    finally:
        proc.kill()
