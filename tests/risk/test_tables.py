"""The risk tables: shipped defaults, the user's override file, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibterm.config import yamlfile
from ibterm.config.reference import load_futures_margins
from ibterm.risk import tables
from ibterm.risk.margin import Rates
from ibterm.risk.settings import RiskSettings, load_settings
from ibterm.risk.stress import StressParams


def test_the_shipped_table_holds_the_margin_rules_defaults() -> None:
    t = tables.shipped()
    assert t.reg_t.naked_pct == 0.20 and t.reg_t.naked_pct_broad_index == 0.15
    assert t.stress.scans["broad_index"] == (-0.08, 0.06)
    assert t.stress.min_per_contract == 0.375
    # The dataclasses' defaults are the table's.
    assert Rates() == Rates.from_table(t.reg_t)
    assert StressParams() == StressParams.from_table(t.stress)


def test_a_user_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text("reg_t:\n  naked_pct: 0.25\nstress:\n  vol_shifts: [-0.3, 0, 0.3]\n"
                    "futures:\n  ES:\n    effective: 2026-12-01\n"
                    "    overnight: {initial: 13000, maintenance: 12000}\n"
                    "    intraday: {initial: 3000, maintenance: 2800}\n")
    settings = load_settings(path)
    assert settings.rates.naked_pct == 0.25
    assert settings.rates.naked_floor == tables.shipped().reg_t.naked_floor
    assert settings.stress.vol_shifts == (-0.3, 0.0, 0.3)
    assert settings.stress.scans == tables.shipped().stress.scans
    assert settings.futures_margin["ES"] == (13_000, 12_000)
    assert settings.futures_margin["NQ"] == load_futures_margins()["NQ"].overnight
    assert load_settings(path, intraday=True).futures_margin["ES"] == (3_000, 2_800)


def test_no_file_or_an_empty_one_is_the_shipped_table(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "missing.yaml") == RiskSettings()
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    assert load_settings(tmp_path / "empty.yaml") == RiskSettings()


@pytest.mark.parametrize(("text", "expected"), [
    ("reg_t:\n  naked_pct: 0.25\n  naked_pcnt: 0.3\n",
     ":3:3: unknown key 'naked_pcnt' (did you mean 'naked_pct'?)"),
    ("reg_t:\n  naked_pct: 2\n", ":2:14: reg_t.naked_pct: Input should be less than or equal to 1"),
    ("stress:\n  scans:\n    equity: [0.1, 0.2]\n",
     ":3:5: stress.scans: equity: [low, high] needs -1 < low <= 0 <= high"),
    ("stress:\n  vol_shifts: [-1.5, 0]\n", ":2:3: stress: vol_shifts: a relative shift must"),
    ("futures:\n  ES:\n    effective: 2026-12-01\n    overnight: {initial: 1, maintenance: 2}\n"
     "    intraday: {initial: 1, maintenance: 1}\n",
     ":4:16: futures.ES.overnight: initial (1) is below maintenance (2)"),
    ("- just a list\n", ":1:1: a mapping of sections is expected"),
])
def test_problems_are_located_in_the_users_file(tmp_path: Path, text: str,
                                                expected: str) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    with pytest.raises(yamlfile.FileProblems) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}{expected}")
