"""`ibterm keys|themes|config` and the warnings a profile deserves at start."""

from __future__ import annotations

import argparse
import json
import stat
import sys
from pathlib import Path

from ibterm.cli.printable import printable
from ibterm.config import yamlfile
from ibterm.config.keymaps import Keymap, check_keymap, keymap_sources
from ibterm.config.settings import Config, Profile, config_path, load_config, user_dir
from ibterm.domain.connection import TradingMode

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
PAPER_PORTS = {7497: "TWS paper", 4002: "IB Gateway paper"}
LIVE_PORTS = {7496: "TWS live", 4001: "IB Gateway live"}


def run(args: argparse.Namespace) -> int:
    if args.command == "keys":
        if args.keys_command == "list":
            return _keys_list(args.profile)
        return _keys_check(args.file)
    if args.command == "themes":
        return _themes_list() if args.themes_command == "list" else _themes_check(args.file)
    if args.config_command == "schema":
        print(json.dumps(Config.model_json_schema(), indent=2))
        return EXIT_OK
    return _config_check(args.file)


def _print_problems(problems: list[yamlfile.Problem]) -> None:
    for p in problems:
        print(printable(p, None), file=sys.stderr)


def _refused(exc: yamlfile.FileProblems) -> int:
    """The file named on the command line, unreadable: its problems said, and the exit
    code. A file refused by yamlfile's limits (an alias bomb, nesting thousands deep, a
    huge file) is bad input, 2; any other problem in it is a check's finding, 1."""
    _print_problems(exc.problems)
    return EXIT_USAGE if isinstance(exc, yamlfile.LimitExceeded) else EXIT_PROBLEMS


# --- keys --------------------------------------------------------------------------------
def active_keymap(profile: Profile | None, folder: Path | None = None) -> Keymap | None:
    """The profile's keymap, checked; None means the built-in keys."""
    from ibterm.tui.actions import action_registry, key_exists

    name = profile.keymap if profile is not None else "default"
    sources = keymap_sources(folder or user_dir("keymaps"))
    if name not in sources:
        known = ", ".join(sorted(sources))
        raise yamlfile.FileProblems([yamlfile.Problem(str(config_path()), 1, 1,
                                                      f"no keymap named {name!r} ({known})")])
    path, text = sources[name]
    keymap, problems = check_keymap(yamlfile.parse(text, path), path, action_registry(),
                                    key_exists)
    if problems:
        raise yamlfile.FileProblems(problems)
    return keymap


def _active_profile(name: str | None = None) -> Profile | None:
    path = config_path()
    if not path.exists():
        return None
    config = load_config(path)
    return config.profiles.get(name or config.default_profile)


def _keys_list(profile_name: str | None = None) -> int:
    from ibterm.config.keymaps import normalize_key
    from ibterm.tui.actions import action_registry

    try:
        keymap = active_keymap(_active_profile(profile_name))
    except yamlfile.FileProblems as exc:
        print(printable(exc, None), file=sys.stderr)
        return EXIT_USAGE
    overrides = keymap.bindings if keymap else {}
    rows = [(info.id, overrides.get(info.id, info.keys), info.scope, info.description)
            for info in action_registry().values()]
    width = max(len(r[0]) for r in rows)
    print(f"# keymap: {keymap.name if keymap else 'default'}")
    for action_id, keys, scope, description in sorted(rows):
        shown = ",".join(normalize_key(k) for k in keys.split(","))
        print(f"{action_id:<{width}}  {shown:<24} {scope:<14} {description}")
    for macro in keymap.macros if keymap else ():
        print(f"{'(macro)':<{width}}  {macro.key:<24} {'app':<14} {macro.describe()}")
    return EXIT_OK


def _keys_check(path: Path) -> int:
    from ibterm.tui.actions import action_registry, key_exists

    if not path.is_file():
        print(f"ibterm: no such file: {printable(path, None)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        located = yamlfile.read(path)
    except yamlfile.FileProblems as exc:
        return _refused(exc)
    keymap, problems = check_keymap(located, str(path), action_registry(), key_exists)
    if problems:
        _print_problems(problems)
        return EXIT_PROBLEMS
    assert keymap is not None
    print(f"{printable(path, None)}: keymap {keymap.name!r}: {len(keymap.bindings)} binding(s), "
          f"{len(keymap.macros)} macro(s), no problems")
    return EXIT_OK


# --- themes ------------------------------------------------------------------------------
def _themes_list() -> int:
    from ibterm.tui.theme import load_themes, textual_theme_names

    loaded = load_themes(user_dir("themes"))
    for name in sorted(loaded.themes):
        print(name)
    for name in sorted(set(textual_theme_names()) - set(loaded.themes)):
        print(name)  # Textual's own, usable by name as well
    _print_problems(loaded.failures)
    return EXIT_OK


def _themes_check(path: Path) -> int:
    from ibterm.tui.theme import check_theme_text

    if not path.is_file():
        print(f"ibterm: no such file: {printable(path, None)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = path.read_text("utf-8")
        model = check_theme_text(text, str(path))
    except (OSError, UnicodeDecodeError) as exc:
        print(printable(f"{path}:1:1: cannot read: {exc}", None), file=sys.stderr)
        return EXIT_PROBLEMS
    except yamlfile.FileProblems as exc:
        return _refused(exc)
    print(f"{printable(path, None)}: theme {model.name!r}: no problems")
    return EXIT_OK


# --- config ------------------------------------------------------------------------------
def paper_on_live_port(name: str, p: Profile) -> str:
    """A paper profile pointed at a live port ("" if not): its orders would reach real
    money without the LIVE confirmation. `config check` reports it as an error; at start
    the account-mode check refuses every order if the login is live indeed."""
    if p.mode is TradingMode.PAPER and p.port in LIVE_PORTS:
        return (f"profile {name!r} is paper but port {p.port} is usually "
                f"{LIVE_PORTS[p.port]}: orders may reach a live account (use a paper port, "
                "7497 or 4002, or mode: live)")
    return ""


def profile_warnings(path: Path, config: Config, port_errors: bool = True) -> list[str]:
    """Things that are valid but probably wrong: the port's usual meaning disagreeing with
    the mode, and a config other users can read. `port_errors=False` leaves out a paper
    profile on a live port, which `config check` reports as an error instead."""
    warnings = []
    for name, p in config.profiles.items():
        if p.mode is TradingMode.LIVE and p.port in PAPER_PORTS:
            warnings.append(f"profile {name!r} is live but port {p.port} is usually "
                            f"{PAPER_PORTS[p.port]}")
        if port_errors and (problem := paper_on_live_port(name, p)):
            warnings.append(problem)
    try:
        mode = path.stat().st_mode
    except OSError:
        return warnings
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(f"{path} is readable by other users (chmod 600 {path})")
    return warnings


def _config_check(file: Path | None) -> int:
    path = file or config_path()
    if not path.is_file():
        print(f"ibterm: no config at {printable(path, None)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(path)
    except yamlfile.FileProblems as exc:
        return _refused(exc)
    problems = []
    located = yamlfile.read(path)
    from ibterm.tui.theme import load_themes, textual_theme_names

    themes = {*textual_theme_names(), *load_themes(path.parent / "themes").themes}
    keymaps_dir = path.parent / "keymaps"
    sources = keymap_sources(keymaps_dir)
    for name, profile in config.profiles.items():
        if problem := paper_on_live_port(name, profile):
            line, col = located.where(("profiles", name, "port"))
            problems.append(yamlfile.Problem(str(path), line, col, problem))
        if profile.theme not in themes:
            line, col = located.where(("profiles", name, "theme"))
            problems.append(yamlfile.Problem(str(path), line, col,
                                             f"profile {name!r}: no theme {profile.theme!r}"))
        if profile.keymap not in sources:
            line, col = located.where(("profiles", name, "keymap"))
            problems.append(yamlfile.Problem(str(path), line, col,
                                             f"profile {name!r}: no keymap {profile.keymap!r}"))
        else:
            try:
                active_keymap(profile, keymaps_dir)
            except yamlfile.FileProblems as exc:
                problems.extend(exc.problems)
    for warning in profile_warnings(path, config, port_errors=False):
        print(f"warning: {printable(warning, None)}", file=sys.stderr)
    if problems:
        _print_problems(sorted(problems, key=lambda p: (p.path, p.line, p.column)))
        return EXIT_PROBLEMS
    print(f"{printable(path, None)}: {len(config.profiles)} profile(s), no problems")
    return EXIT_OK
