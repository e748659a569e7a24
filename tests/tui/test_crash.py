"""An error nothing caught: a short message and a private crash report, not Textual's
traceback with locals (which hold account ids and positions)."""

from __future__ import annotations

import os
import stat

import pytest

from ibterm.config.settings import data_dir
from ibterm.sim.server import SimServer
from tests.tui.support import make_app, until


async def test_an_uncaught_error_writes_a_private_report_and_a_short_message(
        sim: SimServer) -> None:
    app = make_app(sim, 57, ["AAPL"])
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bool(app.session.account))
            account = app.session.account
            app.call_later(lambda: 1 / 0)
            await pilot.pause(0.5)
    reports = sorted(data_dir().glob("crash-*.txt"))
    assert len(reports) == 1
    assert stat.S_IMODE(os.stat(reports[0]).st_mode) == 0o600
    text = reports[0].read_text()
    assert "ZeroDivisionError" in text and account not in text
    shown = "".join(str(r) for r in app._exit_renderables) if app._exit_renderables else ""
    assert app.return_code == 1
    assert account not in shown
