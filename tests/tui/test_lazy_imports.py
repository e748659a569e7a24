"""The app's heaviest modules load when first used, not with the app: the risk
calculator's (polars) with the first margin preview, plotext with the first chart. A fresh
interpreter is asked what importing the app loads; the preview tests show both still come
when the ticket opens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ibterm.sim.server import SimServer
from ibterm.tui.widgets.preview import MarginPreviewPane
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

PRINT_LOADED = "import sys, ibterm.tui.app; print('\\n'.join(sys.modules))"
# What `ibterm demo` runs before its first frame: the command line, the app, and the
# embedded simulator serving its first connection (accounts, portfolio and margin).
DEMO_START = """
import asyncio, sys
import ibterm.cli.main, ibterm.tui.app, ibterm.sim.runner
from ib_async import IB
from ibterm.sim.server import SimServer

async def main():
    server = SimServer(port=0, seed=0)
    await server.start()
    ib = IB()
    await ib.connectAsync("127.0.0.1", server.port, clientId=1, timeout=10)
    await ib.accountSummaryAsync()
    ib.disconnect()
    await server.stop()

asyncio.run(main())
assert "ibterm.risk.margin" in sys.modules  # the simulator's margin did run
print("\\n".join(sys.modules))
"""


def test_importing_the_app_loads_neither_the_risk_calculator_nor_plotext() -> None:
    loaded = subprocess.run([sys.executable, "-c", PRINT_LOADED], capture_output=True,
                            text=True, check=True).stdout.split()
    heavy = ("polars", "plotext", "textual_plotext", "ibterm.risk.preview")
    assert [m for m in loaded if m.startswith(heavy)] == []


def test_the_demo_starts_and_serves_its_account_without_polars() -> None:
    """The simulator's margin (sim/accounts.py: risk.book, risk.margin) runs on the numpy
    kernel: polars, some 70 ms to import, waits for what needs a data frame."""
    loaded = subprocess.run([sys.executable, "-c", DEMO_START], capture_output=True,
                            text=True, check=True, timeout=60).stdout.split()
    assert [m for m in loaded if m.startswith("polars")] == []


async def test_a_bad_risk_file_is_reported_with_the_first_preview(sim: SimServer) -> None:
    config = Path(os.environ["IBTERM_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    (config.parent / "risk.yaml").write_text("reg_t:\n  naked_pct: high\n")
    app = make_app(sim, 81, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == 1)
        await pilot.press("b")
        ticket = app.query_one(OrderTicket)
        await until(pilot, lambda: ticket.instrument is not None)
        pane = app.query_one(MarginPreviewPane)
        await until(pilot, lambda: pane.preview is not None, timeout=10)
        told = [n for n in app._notifications if n.title == "Risk tables not loaded"]
        assert len(told) == 1
        assert "risk.yaml:2:14" in told[0].message
