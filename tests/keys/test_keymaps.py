"""Keymaps: shipped ones load clean; problems are found and located; the CLI contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ibterm.config import yamlfile
from ibterm.config.keymaps import check_keymap, keymap_sources
from ibterm.tui.actions import action_registry, key_exists

IBTERM = [sys.executable, "-m", "ibterm"]


def _check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "k.yaml"
    path.write_text(text)
    _, problems = check_keymap(yamlfile.read(path), str(path), action_registry(), key_exists)
    return [str(p).removeprefix(f"{path}:") for p in problems]


@pytest.mark.parametrize("name", ["default", "vim", "tws"])
def test_shipped_keymaps_have_no_problems(name: str) -> None:
    path, text = keymap_sources(Path("/nonexistent"))[name]
    keymap, problems = check_keymap(yamlfile.parse(text, path), path, action_registry(),
                                    key_exists)
    assert problems == [] and keymap is not None and keymap.name == name


def test_every_binding_has_a_kebab_case_id() -> None:
    registry = action_registry()
    assert len(registry) > 30
    assert all(a.id == a.id.lower() and " " not in a.id and "_" not in a.id
               for a in registry.values())


def test_unknown_ids_and_bad_keys_are_located(tmp_path: Path) -> None:
    problems = _check(tmp_path, "name: x\nbindings:\n  focus-positons: p\n  quit: 'ctrl+'\n")
    assert problems == [
        "3:3: unknown action id 'focus-positons' (did you mean 'focus-positions'?)",
        "4:9: 'ctrl+' is not a key (see `textual keys`)",
    ]


def test_clashes_in_one_scope_are_reported(tmp_path: Path) -> None:
    problems = _check(tmp_path, "name: x\nbindings:\n  focus-orders: w\n")
    assert problems == ["3:17: key 'w' clashes in scope 'app': focus-watchlist, focus-orders"]
    # The same key in different scopes is not a clash: the focused widget decides.
    assert _check(tmp_path, "name: x\nbindings:\n  row-down: b\n") == []


def test_macros_are_validated_with_their_expressions(tmp_path: Path) -> None:
    problems = _check(tmp_path, """\
name: x
macros:
  - key: f2
    action: buy-limit
    args: {qty: 100, price: "ask + 1 pip"}
  - key: f3
    action: bracket
    args: {side: BUY, qty: 1, entry: mid, take_profit: "ask", stop_loss: "-1%"}
  - key: f4
    action: buy-limt
  - key: b
    action: flatten
""")
    assert problems[0].startswith("5:29: macro buy-limit: price: 'ask + 1 pip': column 9")
    assert problems[1].startswith("8:56: macro bracket: take_profit: 'ask' must be an offset")
    assert problems[2] == "10:13: unknown macro action 'buy-limt' (did you mean 'buy-limit'?)"
    assert problems[3] == "11:10: key 'b' clashes in scope 'app': order-buy, macro flatten"


def test_keys_check_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: mine\nbindings:\n  quit: x\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: mine\nbindings:\n  nope: x\n")
    ok = subprocess.run([*IBTERM, "keys", "check", str(good)], capture_output=True, text=True,
                        timeout=30)
    assert ok.returncode == 0, ok.stderr
    result = subprocess.run([*IBTERM, "keys", "check", str(bad)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1 and result.stderr.startswith(f"{bad}:3:3: unknown action id")
    missing = subprocess.run([*IBTERM, "keys", "check", str(tmp_path / "none.yaml")],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2


def test_keys_list_shows_the_active_keymap(tmp_path: Path) -> None:
    from ibterm.config.settings import config_path

    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("default_profile: p\nprofiles:\n  p: {keymap: vim}\n")
    out = subprocess.run([*IBTERM, "keys", "list"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "shift+tab,h" in lines["focus-previous-pane"] and "Quit" in lines["quit"]
    assert out.stdout.startswith("# keymap: vim")


def test_defaults_leave_terminal_and_multiplexer_keys_alone() -> None:
    from ibterm.config.keymaps import RESERVED_KEYS, normalize_key

    taken = {normalize_key(k) for a in action_registry().values() for k in a.keys.split(",")}
    assert not taken & RESERVED_KEYS


def test_keys_that_never_fire_and_empty_bindings_are_problems(tmp_path: Path) -> None:
    problems = _check(tmp_path, "name: x\nbindings:\n  page-down: pgdown\n  quit: ''\n")
    assert problems == ["3:14: 'pgdown' is not a key (see `textual keys`)",
                        "4:9: an empty binding does not unbind: Textual keeps the default keys; "
                        "bind it to a key you do not use"]
