"""`ibterm demo` in a real terminal (tmux, 120x40), driven by keys, read off the screen."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed on this machine")
# A typist's pace: each key reaches the app once the one before has done what it does
# (a field focused, a screen opened); a burst could land on the widget that had the focus.
KEY_GAP = 0.15


def alive(pid: int) -> bool:
    """Whether the process still runs. A zombie has ended: it is only waiting for its
    parent, and the app's is tmux, gone with the session, so it waits for PID 1, which in
    some containers reaps every couple of seconds."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): it answered the signal


def until_gone(pid: int, timeout: float = 15.0) -> bool:
    """Wait for the process to end; False (and killed) if it has not within `timeout`."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            return False
        time.sleep(0.05)
    return True


class Terminal:
    def __init__(self, session: str):
        self.session = session
        self._last_key = 0.0

    def screen(self) -> str:
        return subprocess.run([TMUX, "capture-pane", "-p", "-t", self.session],  # type: ignore[list-item]
                              capture_output=True, text=True, timeout=10).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.press(key)

    def press(self, key: str, times: int = 1) -> None:
        """The key, `times` over in one burst: for a key that stays on one widget (a
        field's Down), each in turn, as a held key repeats."""
        time.sleep(max(0.0, self._last_key + KEY_GAP - time.monotonic()))
        subprocess.run([TMUX, "send-keys", "-t", self.session, "-N", str(times), key],  # type: ignore[list-item]
                       check=True, timeout=10)
        self._last_key = time.monotonic()

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        return self.wait_until(lambda screen: all(t in screen for t in texts),
                               f"{texts!r}", timeout)

    def wait_until(self, seen: Callable[[str], bool], what: str,
                   timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if seen(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what} on the screen:\n{screen}")
            time.sleep(0.1)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    session = f"ibterm-test-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in {
        "IBTERM_DATA_DIR": tmp_path / "data", "IBTERM_CONFIG": tmp_path / "none.yaml",
        "TERM": "xterm-256color"}.items())
    command = f"env {env} {sys.executable} -m ibterm demo"
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",  # type: ignore[list-item]
                    command], check=True, timeout=10, env={**os.environ, "TMUX": ""})
    pane = subprocess.run([TMUX, "display", "-p", "-t", session, "#{pane_pid}"],  # type: ignore[list-item]
                          capture_output=True, text=True, timeout=10).stdout.strip()
    try:
        yield Terminal(session)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], timeout=10)  # type: ignore[list-item]
        # Whatever the test did, the app must not outlive its terminal (it once did: a
        # deadlock in Textual's shutdown left it sleeping, now cut short by a watchdog).
        if pane.isdigit() and not until_gone(int(pane)):
            raise AssertionError("ibterm outlived its terminal")


def test_demo_by_keys(terminal: Terminal) -> None:
    screen = terminal.wait_for("DEMO", "● connected", "AAPL", "live")
    assert "Positions" in screen and "Orders" in screen
    # A resting limit order: the ticket for the row under the cursor, 30 ticks under the bid.
    terminal.keys("b")
    terminal.wait_for("Order ticket", "bid ")
    terminal.keys("Tab", "Tab", "F5")
    terminal.press("Down", 30)
    terminal.keys("F4")
    terminal.wait_for("Send (y)")
    terminal.keys("y")
    terminal.wait_for("Submitted")
    # A bracket from the same ticket: mode is six fields on from the limit.
    terminal.keys(*["Tab"] * 6, "Space")
    terminal.wait_for("Take profit", "R:R")
    terminal.keys("F4")
    terminal.wait_for("take profit", "Send (y)")
    terminal.keys("y")
    terminal.wait_for("PreSubmitted")
    # Cancel the newest order from the blotter.
    terminal.keys("Escape", "o", "c")
    terminal.wait_for("Cancelled")
    # The kill switch: a question whose answer is yes, then HALTED.
    terminal.keys("F12")
    terminal.wait_for("KILL SWITCH")
    terminal.keys("y")
    terminal.wait_for("HALTED")
    # The global cancel's answers follow the state: nothing is left working.
    terminal.wait_until(lambda screen: "Submitted" not in screen.replace("PreSubmitted", "")
                        and "PreSubmitted" not in screen, "no working order", timeout=10)


def test_ladder_by_keys(terminal: Terminal) -> None:
    """An order placed on the depth ladder, moved a tick and cancelled at its row, by keys:
    each through the pipeline's confirmation."""
    terminal.wait_for("DEMO", "● connected", "AAPL", "live")
    terminal.keys("d")
    terminal.wait_for("Depth AAPL", "● live", "Time & sales")
    # Two screens of rows under the touch: the order rests while the market walks.
    terminal.keys("PageDown", "PageDown", "b")
    screen = terminal.wait_for("Send (y)")
    found = re.search(r"BUY 100 AAPL LMT limit (\d+\.\d\d) DAY", screen)
    assert found, screen
    price = found.group(1)
    terminal.keys("y")
    terminal.wait_until(lambda s: re.search(rf"›\s+100\s.*{re.escape(price)}", s) is not None,
                        f"the buy of 100 at {price} on the cursor row")
    terminal.keys("S-Up")
    up = f"{float(price) + 0.01:.2f}"
    terminal.wait_for("MODIFY working order", f"{price} → {up}")
    terminal.keys("y")
    terminal.wait_until(lambda s: re.search(rf"›\s+100\s.*{re.escape(up)}", s) is not None,
                        f"the order moved to {up}, the cursor with it")
    terminal.keys("c")
    terminal.wait_until(lambda s: re.search(r"›\s+100\s", s) is None,
                        "no order left at the cursor row")
    terminal.keys("Escape")
    terminal.wait_for("Watchlist", "Cancelled")


def test_the_terminal_going_away_ends_the_app(terminal: Terminal, tmp_path: Path) -> None:
    from ibterm.broker.journal import read_events

    terminal.wait_for("DEMO", "● connected")
    pid = int(subprocess.run([TMUX, "display", "-p", "-t", terminal.session,  # type: ignore[list-item]
                              "#{pane_pid}"], capture_output=True, text=True,
                             timeout=10).stdout.strip())
    subprocess.run([TMUX, "kill-session", "-t", terminal.session], timeout=10)  # type: ignore[list-item]
    if not until_gone(pid):
        raise AssertionError("ibterm kept running after its terminal went away")
    # It ended the normal way: the session closed and said so in the journal.
    events = list(read_events(tmp_path / "data" / "journal.sqlite3"))
    assert events[-1].kind == "connection" and events[-1].data["state"] == "disconnected"
