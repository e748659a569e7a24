"""Keymap files: action ids to keys, and key macros (an action with parameters).

    name: vim
    bindings:
      focus-next-pane: "tab,l"
    macros:
      - key: "f1"
        action: buy-limit
        args: {qty: 100, price: "ask + 1 tick"}

The action ids a file may use, and their scopes and default keys, come from the app
(ibterm.tui.actions); this module loads, validates and checks a file against them:
unknown ids, bad keys, clashes in a scope, and macro arguments (expressions parsed at
load time), each reported as PATH:LINE:COL.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from ibterm.config import yamlfile
from ibterm.domain.expressions import ExpressionError, parse_price
from ibterm.domain.orders import Side, TimeInForce

_KEY = re.compile(r"^(?:(?:ctrl|shift|alt|super|meta)\+)*(?:[a-z0-9_]+|.)$")
# Keys a terminal or multiplexer keeps for itself: flow control, tmux and screen prefixes.
RESERVED_KEYS = frozenset({
    "ctrl+s", "ctrl+q",  # XON/XOFF flow control
    "ctrl+b", "ctrl+a",  # tmux and screen prefixes
    "ctrl+g", "ctrl+t", "ctrl+o", "ctrl+p", "ctrl+n", "ctrl+h",  # zellij modes
    "ctrl+z", "ctrl+c",  # job control, interrupt
})


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _check_expression(text: str, relative: bool | None) -> str:
    try:
        expr = parse_price(text)
    except ExpressionError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if relative is True and not expr.relative:
        raise ValueError(f"{text!r} must be an offset from the entry, like +1.5% or -20 ticks")
    if relative is False and expr.relative:
        raise ValueError(f"{text!r} needs a price to start from: bid, ask, mid, last or a number")
    return text


PriceText = Annotated[str, pydantic.AfterValidator(lambda t: _check_expression(t, False))]
OffsetText = Annotated[str, pydantic.AfterValidator(lambda t: _check_expression(t, True))]
Quantity = Annotated[float, Field(gt=0)]


class LimitArgs(_Model):
    qty: Quantity
    price: PriceText
    tif: TimeInForce = TimeInForce.DAY


class MarketArgs(_Model):
    qty: Quantity
    tif: TimeInForce = TimeInForce.DAY


class BracketArgs(_Model):
    side: Side
    qty: Quantity
    entry: PriceText | Literal["market"]
    take_profit: OffsetText
    stop_loss: OffsetText
    tif: TimeInForce = TimeInForce.DAY


class FlattenArgs(_Model):
    symbol: Literal["current", "all"] = "all"


class QtyArgs(_Model):
    qty: Quantity


MACRO_ACTIONS: dict[str, type[_Model]] = {
    "buy-limit": LimitArgs, "sell-limit": LimitArgs,
    "buy-market": MarketArgs, "sell-market": MarketArgs,
    "bracket": BracketArgs, "flatten": FlattenArgs, "set-qty": QtyArgs,
}


class MacroDef(_Model):
    key: str
    action: str
    args: dict[str, Any] = Field(default_factory=dict)


class KeymapFile(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    bindings: dict[str, str] = Field(default_factory=dict)
    macros: list[MacroDef] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActionInfo:
    id: str
    scope: str  # where it is declared, as `keys list` shows it
    keys: str  # default keys, comma-separated
    description: str
    # The sets of bindings it is active with (a clash is a key twice within one set):
    # a table's row keys are active in every table. Default: just its own scope.
    active_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Macro:
    key: str
    action: str
    args: _Model

    def describe(self) -> str:
        parts = " ".join(f"{k}={v}" for k, v in self.args.model_dump().items())
        return f"{self.action} {parts}".strip()


@dataclass(frozen=True, slots=True)
class Keymap:
    name: str
    path: str
    bindings: dict[str, str]  # id -> keys, as written (only what the file changes)
    macros: tuple[Macro, ...]


def normalize_key(key: str) -> str:
    """The long form Textual compares: '?' -> 'question_mark', 'J' -> 'J'."""
    from unicodedata import name as unicode_name

    key = key.strip()
    if len(key) == 1 and not key.isalnum():
        try:
            return unicode_name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
    return key


def _split(keys: str) -> list[str]:
    return [k.strip() for k in keys.split(",") if k.strip()]


def check_keymap(located: yamlfile.Located, path: str, actions: Mapping[str, ActionInfo],
                 key_exists: Callable[[str], bool] | None = None,
                 ) -> tuple[Keymap | None, list[yamlfile.Problem]]:
    """Validate a parsed keymap against the app's actions; every problem, located."""
    try:
        model = yamlfile.validate(KeymapFile, located, path)
    except yamlfile.FileProblems as exc:
        return None, exc.problems
    problems: list[yamlfile.Problem] = []

    def at(loc: tuple[str | int, ...], message: str, key_line: bool = False) -> None:
        line, col = (located.keys.get(loc) if key_line else None) or located.where(loc)
        problems.append(yamlfile.Problem(path, line, col, message))

    for action_id, keys in model.bindings.items():
        if action_id not in actions:
            close = difflib.get_close_matches(action_id, list(actions), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            at(("bindings", action_id), f"unknown action id {action_id!r}{hint}", key_line=True)
        if not _split(keys):
            at(("bindings", action_id), "an empty binding does not unbind: Textual keeps the "
                                        "default keys; bind it to a key you do not use")
        for key in _split(keys):
            if not _KEY.match(key) or (key_exists is not None and not key_exists(key)):
                at(("bindings", action_id), f"{key!r} is not a key (see `textual keys`)")

    # Effective keys per scope: the file's where it rebinds, the defaults elsewhere.
    effective: dict[str, dict[str, list[str]]] = {}
    for action_id, info in actions.items():
        keys = model.bindings.get(action_id, info.keys)
        for key in _split(keys):
            for scope in info.active_in or (info.scope,):
                effective.setdefault(scope, {}).setdefault(normalize_key(key), []).append(
                    action_id)
    macros: list[Macro] = []
    for i, m in enumerate(model.macros):
        key = normalize_key(m.key)
        if not _KEY.match(m.key.strip()) or (key_exists is not None
                                             and not key_exists(m.key.strip())):
            at(("macros", i, "key"), f"{m.key!r} is not a key (see `textual keys`)")
        effective.setdefault("app", {}).setdefault(key, []).append(f"macro {m.action}")
        args_model = MACRO_ACTIONS.get(m.action)
        if args_model is None:
            close = difflib.get_close_matches(m.action, list(MACRO_ACTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            at(("macros", i, "action"), f"unknown macro action {m.action!r}{hint}")
            continue
        try:
            args = args_model.model_validate(m.args)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "args"
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "extra_forbidden":
                    message = f"{m.action} takes no argument {field!r}"
                at(("macros", i, "args", *error["loc"]), f"macro {m.action}: {field}: {message}")
            continue
        macros.append(Macro(key, m.action, args))
    for scope, by_key in effective.items():
        for key, ids in by_key.items():
            if len(ids) > 1:
                owner = next((i for i in ids if i in model.bindings), None)
                loc: tuple[str | int, ...] = ("bindings", owner) if owner else ("macros",)
                for i, m in enumerate(model.macros):
                    if normalize_key(m.key) == key:
                        loc = ("macros", i, "key")
                at(loc, f"key {key!r} clashes in scope {scope!r}: {', '.join(ids)}")
    problems.sort(key=lambda p: (p.line, p.column))
    keymap = Keymap(model.name, path, dict(model.bindings), tuple(macros))
    return (None if problems else keymap), problems


def load_keymap_file(path: Path, actions: Mapping[str, ActionInfo],
                     key_exists: Callable[[str], bool] | None = None) -> Keymap:
    keymap, problems = check_keymap(yamlfile.read(path), str(path), actions, key_exists)
    if problems:
        raise yamlfile.FileProblems(problems)
    assert keymap is not None
    return keymap


def shipped_keymap_names() -> list[str]:
    folder = resources.files("ibterm.keymaps")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def keymap_sources(user_dir: Path) -> dict[str, tuple[str, str]]:
    """name -> (path for messages, text): shipped keymaps, then the user's (which win)."""
    found: dict[str, tuple[str, str]] = {}
    folder = resources.files("ibterm.keymaps")
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = (f"ibterm/keymaps/{entry.name}",
                                                       entry.read_text("utf-8"))
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            try:
                found[path.stem] = (str(path), path.read_text("utf-8"))
            except OSError:
                continue
    return found
