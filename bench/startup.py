"""Start-up: `ibterm demo` to its first quote on screen, read from a real terminal (tmux).

Each run starts the real command in a fresh tmux session (120x40) and reads the screen
every 10 ms until a watchlist row shows a price. The baseline, timed the same way in the
same run, is the smallest Textual app that paints one line: what the interpreter, Textual
and the terminal cost before ibterm does anything. Printed: every run, min/median/max of
both, the median ratio, and where the import time goes (`python -X importtime` of what the
demo imports before its first frame, self time summed by package), what the heavy
modules (polars, plotext) would add were they not deferred to first use, and who imports
numpy at start-up (ib_async's eventkit: not ours to defer).

Run: make bench   (or python bench/startup.py --runs 3)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20.0
# A watchlist row with a number in its Bid column: the first quote has been drawn.
FIRST_QUOTE = re.compile(r"│ AAPL\s+\d[\d,]*\.\d+")
BASELINE_READY = re.compile(r"baseline 1\.00")
BASELINE_APP = """
from textual.app import App
from textual.widgets import Static
class Baseline(App):
    def compose(self):
        yield Static("baseline 1.00")
Baseline().run()
"""
# What `ibterm demo` imports before its first frame (the app, the broker, the simulator).
DEMO_IMPORTS = "import ibterm.cli.main, ibterm.tui.app, ibterm.sim.runner"


# A tmux server of the bench's own, kept up for all its runs by a session that only waits:
# on the shared one, killing a run's last session made the server exit, and the next
# run's new-session now and then reached it while it did ("server exited unexpectedly").
TMUX = ["tmux", "-L", f"ibterm-startup-{os.getpid()}"]


@contextmanager
def _tmux_server() -> Iterator[None]:
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keep", "sleep 3600"], check=True)
    try:
        yield
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)


def _time_to_screen(command: list[str], ready: re.Pattern[str], env: dict[str, str]) -> float:
    session = "run"
    shell = " ".join(f"'{part}'" for part in command)
    start = time.perf_counter()
    screen = ""
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    *[arg for key, value in env.items() for arg in ("-e", f"{key}={value}")],
                    shell], check=True)
    try:
        while time.perf_counter() - start < TIMEOUT:
            screen = subprocess.run([*TMUX, "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
            if ready.search(screen):
                return time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"{shell}: no {ready.pattern!r} on screen after {TIMEOUT:.0f} s; "
                           f"the screen:\n{screen}")
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


def _import_breakdown(top: int) -> tuple[float, list[tuple[str, float]]]:
    """Self import time by package: ibterm's by subpackage, others by top-level name."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", DEMO_IMPORTS],
                            capture_output=True, text=True, check=True)
    by_package: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", line)
        if not match:
            continue
        name = match.group(3)
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "ibterm" else parts[0]
        by_package[key] += int(match.group(1)) / 1e6
    total = sum(by_package.values())
    return total, sorted(by_package.items(), key=lambda kv: -kv[1])[:top]


def _summary(name: str, times: list[float]) -> str:
    runs = " ".join(f"{t:.2f}" for t in times)
    return (f"  {name:<9} min {min(times):.2f} s  median {statistics.median(times):.2f} s  "
            f"max {max(times):.2f} s   runs: {runs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("startup: tmux is not installed; skipped")
        return
    with tempfile.TemporaryDirectory() as home, _tmux_server():
        # A fresh user: no config, no journal, the default theme and keymap.
        env = {"IBTERM_DATA_DIR": f"{home}/data", "IBTERM_CONFIG": f"{home}/none.yaml",
               "XDG_CONFIG_HOME": f"{home}/config", "TERM": "xterm-256color",
               # The window's own size: a server started under pytest hands its panes
               # COLUMNS=80 LINES=24, which Textual believes over the terminal.
               "COLUMNS": "120", "LINES": "40",
               # tmux starts commands with its server's environment: pass on a checkout's.
               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
        baseline, demo = [], []
        for _ in range(args.runs):  # interleaved: both see the same machine load
            baseline.append(_time_to_screen([sys.executable, "-c", BASELINE_APP],
                                            BASELINE_READY, env))
            demo.append(_time_to_screen([sys.executable, "-m", "ibterm", "demo"], FIRST_QUOTE, env))
    print("Start-up to the first quote on screen (tmux 120x40):")
    print(_summary("demo", demo))
    print(_summary("baseline", baseline))
    ratio = statistics.median(demo) / statistics.median(baseline)
    print(f"  demo / baseline (medians): {ratio:.2f}   target: demo median under 2 s")
    total, rows = _import_breakdown(top=12)
    print(f"Import time of the demo's modules (self, by package): {total * 1000:.0f} ms")
    for name, seconds in rows:
        print(f"  {name:<22} {seconds * 1000:7.1f} ms")
    deferred = ", ".join(f"{m} (+{_deferred(m) * 1000:.0f} ms)" for m in ("polars", "plotext"))
    print(f"  not loaded at start-up, each imported on first use: {deferred}")
    print(f"  loaded at start-up: numpy, imported by {' <- '.join(_importers('numpy'))}")


def _importers(module: str) -> list[str]:
    """Who first imports `module` in the demo: its importer, that one's, ... up to the top
    (in -X importtime's log a module is followed by the first one less indented)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", DEMO_IMPORTS],
                            capture_output=True, text=True, check=True)
    log = [m.groups() for m in (re.match(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)", line)
                                for line in result.stderr.splitlines()) if m]
    at = next((i for i, (_, name) in enumerate(log) if name == module), None)
    if at is None:
        return ["nothing (not loaded)"]
    chain, depth = [], len(log[at][0])
    for indent, name in log[at + 1:]:
        if len(indent) < depth:
            chain.append(name)
            depth = len(indent)
    return chain


def _deferred(module: str) -> float:
    """What importing `module` after the demo's own imports costs (seconds, cumulative):
    the start-up time it would add; an error if the demo loads it already."""
    code = f"import sys; {DEMO_IMPORTS}; assert {module!r} not in sys.modules; import {module}"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=True)
    for line in result.stderr.splitlines():
        match = re.match(rf"import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$", line)
        if match:
            return int(match.group(1)) / 1e6
    raise RuntimeError(f"{module}: not in the import log")


if __name__ == "__main__":
    main()
