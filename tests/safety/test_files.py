"""Hostile YAML (alias bombs, absurd nesting, recursive aliases) in every kind of file
ibterm reads is refused quickly, in bounded memory, as PATH:LINE:COL and exit 2."""

from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path

import pytest

from ibterm.cli.main import main
from ibterm.config import yamlfile


def _bomb(levels: int = 9) -> str:
    """Billion laughs: each level is ten aliases of the one before, 10^9 values in all."""
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 10)}]"
              for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


HOSTILE = {
    "bomb": _bomb(),
    "deep-flow": "name: x\nbindings: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-block": "name: x\nvariables:\n  " + "- " * 5000 + "1\n",
    "recursive": "name: &a [x, *a]\n",
}


def _located(err: str, path: Path) -> None:
    lines = err.strip().splitlines()
    assert lines, "no message"
    for line in lines:
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", line), line
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["config", "keys", "themes", "scenario"])
def test_each_file_kind_refuses_hostile_yaml(tmp_path: Path, command: str, kind: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{command}.yaml"
    path.write_text(HOSTILE[kind], encoding="utf-8")
    argv = {"config": ["config", "check", str(path)], "keys": ["keys", "check", str(path)],
            "themes": ["themes", "check", str(path)],
            "scenario": ["sim", "--port", "0", "--scenario", str(path)]}[command]
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    out = capsys.readouterr()
    assert code == 2, out.err
    assert out.out == ""
    _located(out.err, path)
    assert elapsed < 2.0  # the bomb, unrefused, took 20 s and 2-3 GB


def test_the_active_config_is_refused_at_start(
        capsys: pytest.CaptureFixture[str]) -> None:
    from ibterm.config.settings import config_path

    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(_bomb(), encoding="utf-8")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5:") and "alias" in err
    assert main(["config", "check"]) == 2


def test_a_bomb_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(yamlfile.LimitExceeded) as caught:
            yamlfile.parse(_bomb(), "bomb.yaml")
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [problem] = caught.value.problems
    assert (problem.line, problem.path) == (5, "bomb.yaml")  # where the budget ran out
    assert "aliases expand to more than" in problem.message
    assert elapsed < 0.5 and peak < 20_000_000


def test_nesting_limit_is_located() -> None:
    with pytest.raises(yamlfile.LimitExceeded) as caught:
        yamlfile.parse("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    [problem] = caught.value.problems
    # The mapping is level 1: the 100th "[" (column 103) is the first too deep.
    assert (problem.line, problem.column) == (1, 3 + yamlfile.MAX_DEPTH)
    assert f"more than {yamlfile.MAX_DEPTH} levels" in problem.message


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * (4 * yamlfile.MAX_CHARS) + "\n", encoding="utf-8")
    with pytest.raises(yamlfile.LimitExceeded, match="larger than"):
        yamlfile.read(path)
    with pytest.raises(yamlfile.LimitExceeded, match="larger than"):
        yamlfile.parse("#" * (yamlfile.MAX_CHARS + 1), "big.yaml")


def test_reasonable_anchors_still_work() -> None:
    text = ("base: &base {max_qty: 100, max_value: 50000}\n"
            "paper: *base\nlive: *base\n"
            "deep: " + "[" * 50 + "1" + "]" * 50 + "\n")
    data = yamlfile.parse(text, "ok.yaml").data
    assert data["paper"] == data["live"] == {"max_qty": 100, "max_value": 50000}


def test_in_app_loaders_report_instead_of_crashing(tmp_path: Path) -> None:
    """Themes and keymaps beside the config are loaded by the app: a bomb among them is
    a located failure, never an exception out of the loader."""
    from ibterm.cli.checks import active_keymap
    from ibterm.config.settings import Profile
    from ibterm.tui.theme import load_themes

    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "bomb.yaml").write_text(_bomb(), encoding="utf-8")
    loaded = load_themes(themes)
    assert any(p.path.endswith("bomb.yaml") and "alias" in p.message for p in loaded.failures)
    keymaps = tmp_path / "keymaps"
    keymaps.mkdir()
    (keymaps / "bomb.yaml").write_text(HOSTILE["deep-flow"], encoding="utf-8")
    profile = Profile.model_validate({"host": "127.0.0.1", "port": 7497, "client_id": 1,
                                      "mode": "paper", "keymap": "bomb"})
    with pytest.raises(yamlfile.FileProblems, match="levels deep"):
        active_keymap(profile, keymaps)


def test_the_watchlist_write_back_refuses_a_hostile_config(tmp_path: Path) -> None:
    # ruamel (the round-trip writer) has no limits of its own: deep nesting was a bare
    # RecursionError in a worker, and the failure to save was lost.
    from ibterm.config.write import save_watchlist

    path = tmp_path / "config.yaml"
    deep = "[" * 5000 + "]" * 5000
    before = f"profiles:\n  paper:\n    watchlist: [AAPL]\n    x: {deep}\n"
    path.write_text(before)
    with pytest.raises(yamlfile.FileProblems):
        save_watchlist(path, "paper", ["MSFT"])
    assert path.read_text() == before
