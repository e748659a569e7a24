"""Scenario files: valid ones build the world, bad ones say what and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibterm.config.yamlfile import FileProblems
from ibterm.sim.world import load_scenario


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(FileProblems) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def test_a_small_scenario_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
date: 2026-03-02
seed: 5
accounts:
  - id: DU7654321
    cash: 250000
    positions:
      - {symbol: IBM, quantity: 10, avg_cost: 200}
      - {symbol: "IBM 20260320 200 P", quantity: -1, avg_cost: 4.5}
instruments:
  - {symbol: IBM, price: 210, options: {strike_step: 10}}
  - {symbol: ES, sec_type: FUT, price: 5000}
""")
    scenario = load_scenario(path)
    assert scenario.seed == 5 and scenario.accounts[0].cash == 250_000


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "date: 2026-03-02\ntick_intreval: 1\n")
    assert _problems(path) == [f"{path}:2:1: unknown key 'tick_intreval' (did you mean "
                               "'tick_interval'?)"]


def test_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
instruments:
  - symbol: AAPL
    price: lots
""")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:3:12: instruments.0.price: ")
    assert "number" in problem


def test_position_on_an_unknown_instrument(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
accounts:
  - id: DU1111111
    positions:
      - {symbol: ZZZZ, quantity: 5, avg_cost: 10}
""")
    assert _problems(path) == [
        f"{path}:4:18: 'ZZZZ' is not an instrument of this scenario"]


def test_futures_root_must_be_in_the_futures_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "instruments:\n  - {symbol: ZB, sec_type: FUT, price: 110}\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:2:14: ZB is not in the futures table")


def test_invalid_yaml_has_a_location(tmp_path: Path) -> None:
    path = _write(tmp_path, "date: [2026\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:2:1: invalid YAML")


def test_missing_file(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path / "nope.yaml")
    assert problem.endswith("cannot read: No such file or directory")


def test_several_problems_are_all_reported_in_line_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "seed: x\ntick_interval: -1\nsession: lunch\n")
    lines = [p.split(":")[1] for p in _problems(path)]
    assert lines == ["1", "2", "3"]


def test_own_instruments_without_accounts_get_an_empty_default_account(tmp_path: Path) -> None:
    path = _write(tmp_path, "instruments:\n  - {symbol: KO, price: 60}\n")
    scenario = load_scenario(path)
    assert [a.positions for a in scenario.accounts] == [[]]
