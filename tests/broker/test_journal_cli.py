"""`ibterm journal list|export`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from ibterm.broker.journal import Journal, journal_path
from ibterm.config.settings import data_dir

IBTERM = [sys.executable, "-m", "ibterm"]


def _journal() -> None:
    journal = Journal(journal_path(data_dir()), "paper")
    journal.record("intent", intent_id="a1", symbol="AAPL", description="BUY 10 AAPL LMT 230")
    journal.record("submitted", intent_id="a1", order_ref="ibterm-a1-0", symbol="AAPL")
    journal.record("intent", intent_id="b2", symbol="ES 202612", description="SELL 1 ES")
    journal.close()
    other = Journal(journal_path(data_dir()), "live")
    other.record("intent", intent_id="c3", symbol="AAPL")
    other.close()


def test_list_filters_by_symbol_and_profile() -> None:
    _journal()
    out = subprocess.run([*IBTERM, "journal", "list", "--symbol", "aapl", "--profile", "paper"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(" paper " in line and "AAPL" in line for line in lines)
    assert "ibterm-a1-0" in lines[1]
    everything = subprocess.run([*IBTERM, "journal", "list", "--since", "2000-01-01"],
                                capture_output=True, text=True, timeout=30)
    assert len(everything.stdout.splitlines()) == 4


def test_export_csv_and_parquet(tmp_path: Path) -> None:
    _journal()
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"j.{fmt}"
        result = subprocess.run([*IBTERM, "journal", "export", "--format", fmt, "--out",
                                 str(out)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        frame = pl.read_csv(out) if fmt == "csv" else pl.read_parquet(out)
        assert frame.height == 4 and frame["kind"].to_list()[:2] == ["intent", "submitted"]


def test_bad_input_is_a_usage_error() -> None:
    result = subprocess.run([*IBTERM, "journal", "list", "--since", "yesterday"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not a date" in result.stderr
    result = subprocess.run([*IBTERM, "journal", "list"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "no journal" in result.stderr
