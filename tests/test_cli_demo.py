"""What `ibterm demo` hands the app: the market-data lines its world gives the login
(the scenario's limit; a world without one has the most a profile may count), the
world's instruments as the watchlist, and no risk worker process forked from the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibterm.cli.main import main
from ibterm.config.settings import MAX_MARKET_DATA_LINES
from ibterm.risk import parallel
from ibterm.tui.app import IbtermApp


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, list[str], bool]]:
    """Each app the command would have run: (lines, watchlist, risk worker allowed)."""
    seen: list[tuple[int, list[str], bool]] = []

    def run(app: IbtermApp, *_args: object, **_kwargs: object) -> None:
        profile = app.session.profile
        seen.append((profile.market_data_lines, list(profile.watchlist),
                     parallel.settings.enabled))

    monkeypatch.setattr(IbtermApp, "run", run)
    monkeypatch.setattr(parallel.settings, "enabled", True)  # as a fresh process has it
    return seen


def _world(path: Path, lines: int | None) -> Path:
    text = "instruments:\n  - {symbol: AAPL, price: 200.0}\n  - {symbol: IBM, price: 240.0}\n"
    if lines is not None:
        text += f"market_data_lines: {lines}\n"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("lines", "counted"), [(250, 250), (0, MAX_MARKET_DATA_LINES),
                                                (None, 100)])
def test_the_demo_counts_its_worlds_lines(
        started: list[tuple[int, list[str], bool]], tmp_path: Path, lines: int | None,
        counted: int) -> None:
    assert main(["demo", "--scenario", str(_world(tmp_path / "w.yaml", lines))]) == 0
    assert started == [(counted, ["AAPL", "IBM"], False)]
