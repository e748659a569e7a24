"""Quote batches applied to the screen: only what changed is redrawn."""

from __future__ import annotations

import gc

import pytest

from ibterm.sim.server import SimServer
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

WATCHLIST = ["AAPL", "MSFT", "TSLA"]


async def test_the_status_bar_is_redrawn_only_when_the_data_type_changes(
        sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(sim, 61, WATCHLIST)
    async with app.run_test(size=(120, 40)) as pilot:
        watchlist = app.query_one(WatchlistTable)
        await until(pilot, lambda: len(watchlist.quotes) == len(WATCHLIST)
                    and "live+delayed" in str(app.status_bar.render()))
        labels: list[str | None] = []
        update_state = app.status_bar.update_state

        def spy(**changes: object) -> None:
            labels.append(changes.get("data_label"))  # type: ignore[arg-type]
            update_state(**changes)  # type: ignore[arg-type]

        monkeypatch.setattr(app.status_bar, "update_state", spy)
        last = watchlist.get_cell("AAPL", "last").plain
        for _ in range(6):
            sim.step(5)
            await pilot.pause(0.3)
        assert watchlist.get_cell("AAPL", "last").plain != last  # the quotes moved
        assert [label for label in labels if label is not None] == []


async def test_start_up_objects_stay_out_of_full_collections_while_the_app_runs(
        sim: SimServer) -> None:
    app = make_app(sim, 62, WATCHLIST)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
