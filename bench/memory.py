"""Memory: the app's RSS over a long session with 100 symbols ticking and the option chain
open.

Runs the simulator (`ibterm sim`) on a generated world of 100 instruments, ticking four
times a second, with an account holding stock and option positions, and the real `ibterm`
in tmux (160x50) on a profile that watches all 100 and has the market-data lines for the
chain too (IB's default 100 would all go to the watchlist; `ibterm demo` has no more).
Once the first quote is on screen it opens the order ticket on SPY, so the margin preview
(with its chart) recomputes on every quote, then SPY's option chain over it (a dollar
between strikes: every row on screen quoted, a call and a put a line), and samples the
app's RSS, and the simulator's, every 10 s. Printed: RSS at start and at each minute,
and the app's growth over the second half of the run as a least-squares slope (MB per
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
CHAIN_QUOTED = re.compile(r"Chain SPY .* · (\d+) quoted")
SAMPLE_EVERY = 10.0
# The watchlist's 100, SPY's chain on a 50-row screen (two lines a strike), and spare.
LINES = 300


def scenario_yaml() -> str:
    lines = ["seed: 3", "tick_interval: 0.25", "session: open",
             f"market_data_lines: {LINES}", "accounts:",
             "  - id: DU1234567", "    cash: 1000000", "    positions:",
             "      - {symbol: AAPL, quantity: 300, avg_cost: 210.0}",
             "      - {symbol: SPY, quantity: 100, avg_cost: 580.0}",
             "instruments:",
             "  - {symbol: AAPL, price: 230, volatility: 0.25}",
             "  - symbol: SPY", "    price: 600", "    volatility: 0.15",
             "    options: {strike_step: 1, strike_range: 0.05, weeklies: 1, monthlies: 2}"]
    lines += [f"  - {{symbol: S{i:03d}, price: {20 + i}, volatility: 0.3}}" for i in range(98)]
    return "\n".join(lines) + "\n"


def config_yaml(port: int) -> str:
    symbols = ["AAPL", "SPY", *(f"S{i:03d}" for i in range(98))]
    return "\n".join([
        "default_profile: memory", "profiles:", "  memory:", "    host: 127.0.0.1",
        f"    port: {port}", "    client_id: 1", "    mode: paper", "    market_data: live",
        f"    market_data_lines: {LINES}", f"    watchlist: [{', '.join(symbols)}]"]) + "\n"


def _start_sim(world: Path) -> tuple[subprocess.Popen[str], int]:
    sim = subprocess.Popen([sys.executable, "-m", "ibterm", "sim", "--port", "0",
                            "--scenario", str(world)], stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    line = sim.stdout.readline()
    found = re.match(r"listening on .*:(\d+)$", line.strip())
    if not found:
        sim.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return sim, int(found.group(1))


def _wait_for(session: str, seen: re.Pattern[str] | str, what: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        screen = _screen(session)
        if (seen.search(screen) if isinstance(seen, re.Pattern) else seen in screen):
            return screen
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} after {seconds:g} s:\n{screen}")
        time.sleep(0.1)


def _keys(session: str, *keys: str) -> None:
    for key in keys:
        subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
        time.sleep(0.2)


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
        sim, port = _start_sim(world)
        config = Path(home, "config.yaml")
        config.write_text(config_yaml(port))
        env = {"IBTERM_DATA_DIR": f"{home}/data", "IBTERM_CONFIG": str(config),
               "XDG_CONFIG_HOME": f"{home}/config", "TERM": "xterm-256color",
               # tmux starts commands with its server's environment: pass on a checkout's.
               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
                        *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                        f"'{sys.executable}' -m ibterm"], check=True)
        try:
            _wait_for(session, FIRST_QUOTE, "quote on screen", 30)
            pane = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F",
                                       "#{pane_pid}"], capture_output=True, text=True,
                                      check=True).stdout.split()[0])
            pid = _app_pid(pane)
            _keys(session, "Down", "b")  # SPY's ticket
            _wait_for(session, "Margin preview", "margin preview", 10)
            # The chain from the palette: the ticket's fields keep the letters typed.
            _keys(session, "C-p")
            _wait_for(session, "Search for commands", "command palette", 10)
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", "option chain"],
                           check=True)
            _wait_for(session, "Option chain", "palette's option chain", 10)
            _keys(session, "Enter")
            screen = _wait_for(session, CHAIN_QUOTED, "chain", 20)
            quoted = CHAIN_QUOTED.search(screen)
            start = time.monotonic()
            samples: list[tuple[float, float, float]] = []
            while (elapsed := time.monotonic() - start) <= args.minutes * 60:
                samples.append((elapsed, _rss_mb(pid), _rss_mb(sim.pid)))
                time.sleep(SAMPLE_EVERY)
            final = CHAIN_QUOTED.search(_screen(session))
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
            sim.terminate()
            sim.wait(10)
    print(f"Memory of `ibterm`: 100 symbols ticking 4/s, the ticket and its preview open, "
          f"SPY's chain over them ({quoted.group(1) if quoted else '?'} options quoted at "
          f"the start, {final.group(1) if final else '?'} at the end), {args.minutes:g} min")
    for index, (elapsed, rss, sim_rss) in enumerate(samples):
        if index in (0, len(samples) - 1) or int(elapsed) % 60 < SAMPLE_EVERY:
            print(f"  {elapsed / 60:5.1f} min  RSS {rss:7.1f} MB  (simulator {sim_rss:6.1f} MB)")
    second_half = [(t, rss) for t, rss, _ in samples if t >= args.minutes * 30]
    if len(second_half) >= 3:
        slope, noise = _slope(second_half)
        growth = slope * args.minutes / 2
        verdict = "flat" if abs(growth) <= max(2 * noise, 1.0) else "GROWING"
        print(f"  second half: slope {slope:+.2f} MB/min ({growth:+.1f} MB over it), "
              f"noise {noise:.2f} MB: {verdict}")

if __name__ == "__main__":
    main()
