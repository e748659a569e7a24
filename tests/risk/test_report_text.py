"""`ibterm risk`'s human report: legs named by instrument, and tables that fit the terminal
(80 columns when piped) without a figure cut short."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from ibterm.cli.main import main
from ibterm.config.reference import futures_table
from ibterm.risk.portfolio import read_portfolio
from ibterm.risk.report import analyse, compact, print_report, stress_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "portfolios"
AS_OF = dt.date(2026, 11, 27)


def _report(name: str, width: int, *args: str, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> str:
    """The report as `ibterm risk` prints it, COLUMNS=width (what a pipe or a terminal of
    that width gives Rich)."""
    monkeypatch.setenv("COLUMNS", str(width))
    code = main(["risk", str(EXAMPLES / f"{name}.csv"), "--as-of", "20261127", *args])
    out = capsys.readouterr().out
    assert code == 0
    return out


def _grid(name: str) -> list[dict]:  # type: ignore[type-arg]
    rows = read_portfolio(EXAMPLES / f"{name}.csv", AS_OF, futures_table()).rows
    return analyse(rows, AS_OF, 0.04).report["stress"]["grid"]  # type: ignore[no-any-return]


def _text(tables: list, width: int) -> str:  # type: ignore[type-arg]
    console = Console(file=io.StringIO(), width=width)
    for t in tables:
        console.print(t)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_legs_show_their_instrument_beside_the_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = _report("iron_condor", 80, capsys=capsys, monkeypatch=monkeypatch)
    for leg in ("2: SPY 20270115 160 P ×10", "3: SPY 20270115 170 P ×-10",
                "4: SPY 20270115 180 C ×-10", "5: SPY 20270115 190 C ×10"):
        assert leg in out
    # Stock by its symbol, a future by its expiry, a futures option in full.
    out = _report("covered_call", 80, capsys=capsys, monkeypatch=monkeypatch)
    assert "2: AAPL ×100" in out and "3: AAPL 20270115 240 C ×-1" in out
    out = _report("futures_covered_call", 80, capsys=capsys, monkeypatch=monkeypatch)
    assert "2: ES 20261218 ×1" in out and "3: ES 20261218 6200 C ×-1" in out


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("name", ["iron_condor", "futures_covered_call", "accounts"])
def test_the_report_fits_the_width_and_cuts_no_figure(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str,
        width: int) -> None:
    out = _report(name, width, capsys=capsys, monkeypatch=monkeypatch)
    assert "…" not in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= width
    # Every grid cell is there in full: whole dollars, or compact with its suffix.
    cells = set(re.findall(r"│\s+(-?[\d,.]+[KMB]?)(?=\s+│)", out))
    for g in _grid(name):
        assert f"{round(g['pnl']) + 0:,.0f}" in cells or compact(g["pnl"]) in cells


def test_the_grid_keeps_whole_dollars_while_they_fit_then_compact_then_blocks() -> None:
    grid = _grid("iron_condor")
    [wide] = stress_tables("SPY", grid, 120)
    assert "-7,898" in _text([wide], 120)
    [mid] = stress_tables("SPY", grid, 100)
    assert "-7.9K" in _text([mid], 100) and "-7,898" not in _text([mid], 100)
    blocks = list(stress_tables("SPY", grid, 80))
    text = _text(blocks, 80)
    assert len(blocks) == 2 and "-7,898" in text and "-5,892" in text
    assert "(continued)" in text
    # The moves are split, none lost or repeated: 11 headings over the blocks.
    assert sorted(re.findall(r"[+-]\d+%(?= ┃)", text)) == sorted(
        f"{m:+.0%}" for m in sorted({g["price_move"] for g in grid}))


def test_compact_figures_round_but_never_cut() -> None:
    assert [compact(v) for v in (0.4, -0.4, 292, -999.4, -999.6, -7_241, 999_949,
                                 999_960, -12_345_678)] == [
        "0", "0", "292", "-999", "-1.0K", "-7.2K", "999.9K", "1.0M", "-12.3M"]


def test_odd_moves_are_headed_exactly() -> None:
    # A broad index scans -8% .. +6%: 1.4% steps must not be headed "-7%".
    grid = [{"underlying": "SPX", "price_move": m, "vol_shift": 0.0, "pnl": 1.0}
            for m in (-0.08, -0.066, 0.0025)]
    text = _text(list(stress_tables("SPX", grid, 80)), 80)
    assert "-8%" in text and "-6.6%" in text and "+0.25%" in text


def test_print_report_uses_the_consoles_width() -> None:
    rows = read_portfolio(EXAMPLES / "iron_condor.csv", AS_OF, futures_table()).rows
    console = Console(file=io.StringIO(), width=80)
    print_report(analyse(rows, AS_OF, 0.04), console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in out and "-7,898" in out


# --- the liquidation estimate: only with the account's equity (#10) ----------------------

def test_the_estimate_only_with_equity_and_a_line_saying_so_without(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The book's own equity (initial margin + long premium) put the iron condor's
    # liquidation at -2.03%: a figure about no real account.
    out = _report("iron_condor", 80, capsys=capsys, monkeypatch=monkeypatch)
    assert "-2.03%" not in out and "excess liquidity now" not in out
    assert "Liquidation estimate: give --equity DOLLARS" in out
    rows = read_portfolio(EXAMPLES / "iron_condor.csv", AS_OF, futures_table()).rows
    assert analyse(rows, AS_OF, 0.04, with_liquidation=True).liquidation is None
    # Given, it is there.
    out = _report("iron_condor", 80, "--equity", "11000", capsys=capsys,
                  monkeypatch=monkeypatch)
    assert "Liquidation estimate: the move" in out and "-2.03%" in out
    assert "equity 11,000.00 (given); excess liquidity now 1,000.00" in out
    assert "give --equity" not in out


def _json(name: str, *args: str,
          capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    code = main(["risk", str(EXAMPLES / f"{name}.csv"), "--as-of", "20261127", "--json",
                 *args])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def test_the_json_carries_the_estimate_only_with_equity(
        capsys: pytest.CaptureFixture[str]) -> None:
    plain = _json("iron_condor", capsys=capsys)
    assert "liquidation" not in plain
    report = _json("iron_condor", "--equity", "11000", capsys=capsys)
    # The contract's keys unchanged and first; the new one after them.
    assert list(report) == [*plain, "liquidation"]
    assert {k: v for k, v in report.items() if k != "liquidation"} == plain
    liq = report["liquidation"]
    assert list(liq) == ["equity", "excess_liquidity", "by_underlying", "correlated",
                         "searched"]
    assert liq["equity"] == 11_000 and liq["excess_liquidity"] == 1_000
    assert liq["by_underlying"]["SPY"]["down"] == pytest.approx(-0.0203, abs=1e-4)
    assert liq["by_underlying"]["SPY"]["up"] == pytest.approx(0.0562, abs=1e-4)
    assert liq["correlated"] == liq["by_underlying"]["SPY"]
    assert liq["searched"] == {"down": -0.99, "up": 3.0}
    # With an account column, after `accounts`; a move not reached within the range is null.
    report = _json("accounts", "--equity", "1000000", capsys=capsys)
    assert list(report)[-2:] == ["accounts", "liquidation"]
    assert report["liquidation"]["by_underlying"]["XYZ"] == {"down": None, "up": None}
