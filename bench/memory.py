"""Memory: the demo app's RSS over a long session with 100 symbols ticking.

Runs the real `ibterm demo` in tmux (160x50) on a generated world of 100 instruments
(watched, since the demo watches its world), ticking four times a second, with an account
holding stock and option positions. Once the first quote is on screen it opens the order
ticket on the row under the cursor, so the margin preview (with its chart) recomputes on
every quote, and samples the app's RSS every 10 s. Printed: RSS at start and at each
minute, and the growth over the second half of the run as a least-squares slope (MB per
minute) against the noise of the samples there. Flat means the slope is within noise.

Run: make memory   (MEMORY_MINUTES=10 by default; python bench/memory.py --minutes 2)
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
from pathlib import Path

FIRST_QUOTE = re.compile(r"│ AAPL\s+\d[\d,]*\.\d+")
SAMPLE_EVERY = 10.0


def scenario_yaml() -> str:
    lines = ["seed: 3", "tick_interval: 0.25", "session: open", "accounts:",
             "  - id: DU1234567", "    cash: 1000000", "    positions:",
             "      - {symbol: AAPL, quantity: 300, avg_cost: 210.0}",
             "      - {symbol: SPY, quantity: 100, avg_cost: 580.0}",
             "instruments:",
             "  - {symbol: AAPL, price: 230, volatility: 0.25}",
             "  - symbol: SPY", "    price: 600", "    volatility: 0.15",
             "    options: {strike_step: 5, strike_range: 0.05, weeklies: 1, monthlies: 2}"]
    lines += [f"  - {{symbol: S{i:03d}, price: {20 + i}, volatility: 0.3}}" for i in range(98)]
    return "\n".join(lines) + "\n"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _app_pid(pane_pid: int) -> int:
    """The ibterm process: the pane's own process, or its child if a shell runs it."""
    for pid in [pane_pid, *_children(pane_pid)]:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(part.endswith(b"ibterm") for part in cmdline):
            return pid
    raise RuntimeError("the ibterm process was not found under the tmux pane")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout


def _slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope (MB/min) and the residuals' standard deviation (MB)."""
    xs = [t / 60 for t, _ in points]
    ys = [rss for _, rss in points]
    fit = statistics.linear_regression(xs, ys)
    residuals = [y - (fit.slope * x + fit.intercept) for x, y in zip(xs, ys, strict=True)]
    return fit.slope, statistics.pstdev(residuals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float,
                        default=float(os.environ.get("MEMORY_MINUTES", "10")))
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("memory: tmux is not installed; skipped")
        return
    session = f"ibterm-memory-{os.getpid()}"
    with tempfile.TemporaryDirectory() as home:
        world = Path(home, "world.yaml")
        world.write_text(scenario_yaml())
        env = {"IBTERM_DATA_DIR": f"{home}/data", "IBTERM_CONFIG": f"{home}/none.yaml",
               "XDG_CONFIG_HOME": f"{home}/config", "TERM": "xterm-256color",
               # tmux starts commands with its server's environment: pass on a checkout's.
               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
                        *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                        f"'{sys.executable}' -m ibterm demo --scenario '{world}'"], check=True)
        try:
            deadline = time.monotonic() + 30
            while not FIRST_QUOTE.search(_screen(session)):
                if time.monotonic() > deadline:
                    raise RuntimeError("no quote on screen after 30 s:\n" + _screen(session))
                time.sleep(0.1)
            pane = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F",
                                       "#{pane_pid}"], capture_output=True, text=True,
                                      check=True).stdout.split()[0])
            pid = _app_pid(pane)
            subprocess.run(["tmux", "send-keys", "-t", session, "b"], check=True)
            deadline = time.monotonic() + 10
            while "Margin preview" not in _screen(session):
                if time.monotonic() > deadline:
                    raise RuntimeError("no margin preview after 10 s:\n" + _screen(session))
                time.sleep(0.1)
            start = time.monotonic()
            samples: list[tuple[float, float]] = []
            while (elapsed := time.monotonic() - start) <= args.minutes * 60:
                samples.append((elapsed, _rss_mb(pid)))
                time.sleep(SAMPLE_EVERY)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    print(f"Memory of `ibterm demo`: 100 symbols ticking 4/s, ticket and preview open, "
          f"{args.minutes:g} min")
    for index, (elapsed, rss) in enumerate(samples):
        if index in (0, len(samples) - 1) or int(elapsed) % 60 < SAMPLE_EVERY:
            print(f"  {elapsed / 60:5.1f} min  RSS {rss:7.1f} MB")
    second_half = [s for s in samples if s[0] >= args.minutes * 30]
    if len(second_half) >= 3:
        slope, noise = _slope(second_half)
        growth = slope * args.minutes / 2
        verdict = "flat" if abs(growth) <= max(2 * noise, 1.0) else "GROWING"
        print(f"  second half: slope {slope:+.2f} MB/min ({growth:+.1f} MB over it), "
              f"noise {noise:.2f} MB: {verdict}")


if __name__ == "__main__":
    main()
