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
