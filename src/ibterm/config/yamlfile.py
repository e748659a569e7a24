"""YAML files validated by pydantic models, with errors as `PATH:LINE:COL: message`.

PyYAML's node marks give every key and value a position; pydantic's error locations are
mapped back onto them, so a user sees the line of the bad value, the expected type and,
for a mistyped key, the closest valid one.

Every YAML file ibterm reads is the user's or a downloaded one (config, keymaps, themes,
scenarios), so parsing is bounded: a file of at most MAX_CHARS, collections nested at
most MAX_DEPTH deep, and aliases that add at most MAX_ALIAS_NODES values when expanded
("billion laughs": nine levels of ten aliases each is 10^9 values from 1 KB of text).
The limits are checked while PyYAML composes the node graph, where an alias is still one
shared node, so a hostile file is refused after a few thousand nodes, in milliseconds,
never expanded. A refusal is a LimitExceeded (a FileProblems) at the offending mark.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

# A location as pydantic reports it: str keys and int indexes.
Loc = tuple[str | int, ...]
# A path into the parsed file: its keys are whatever YAML allows (a date, a float), though
# only a path of str and int parts is ever looked up, by a Loc.
KeyPath = tuple[Hashable, ...]
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_CHARS = 1_000_000  # the largest shipped file is 5 KB; a scenario with every
                       # instrument and fault a user could want is well under 100 KB
MAX_DEPTH = 100  # our schemas nest at most ~6 deep; Python's stack allows ~400 here
MAX_ALIAS_NODES = 10_000  # values aliases may add: generous for anchors reused in a
                          # config, a millionth of the bomb


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class FileProblems(Exception):
    """One or more located problems in a file; str() is one problem per line."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class LimitExceeded(FileProblems):
    """The file is refused unread (too large, too deep, aliases expanding too far): bad
    input, exit 2, rather than a check's finding."""


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts nesting depth and what aliases expand to."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values in it once expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias: PyYAML's own error follows
                size = self._sizes.get(id(target))
                if size is None:  # its anchor's collection is still open
                    raise _Refused(event.start_mark,
                                   f"alias *{event.anchor} refers to a collection that "
                                   "contains it (recursive YAML is not supported)")
                self._alias_nodes += size
                if self._alias_nodes > MAX_ALIAS_NODES:
                    raise _Refused(event.start_mark,
                                   f"aliases expand to more than {MAX_ALIAS_NODES:,} values "
                                   "(refused: an alias bomb?)")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark,
                               f"nested more than {MAX_DEPTH} levels deep")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        return node


@dataclass(slots=True)
class Located:
    """Parsed YAML data and where each value (by path) and each key starts."""

    data: Any
    values: dict[KeyPath, tuple[int, int]]
    keys: dict[KeyPath, tuple[int, int]]

    def where(self, loc: Loc) -> tuple[int, int]:
        """The position of the deepest part of `loc` that exists in the file."""
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def parse(text: str, path: str) -> Located:
    """Parse one YAML document with positions; raise FileProblems (LimitExceeded for a
    file refused by the limits above)."""
    if len(text) > MAX_CHARS:
        raise LimitExceeded([Problem(path, 1, 1, f"the file is larger than {MAX_CHARS:,} "
                                                 "characters (refused)")])
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:  # control characters, checked on construction
        line, col = _position(text, exc.position)
        raise FileProblems([Problem(path, line, col, f"invalid character {exc.character!r} "
                                                     "(YAML allows no control characters)")]
                           ) from None
    try:
        root = loader.get_single_node()
    except _Refused as exc:
        line, col = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark else (1, 1)
        raise LimitExceeded([Problem(path, line, col, exc.message)]) from None
    except RecursionError:  # the depth limit should come first; never a traceback
        raise LimitExceeded([Problem(path, 1, 1, "nested too deeply")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FileProblems([Problem(path, line, col, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise FileProblems([Problem(path, 1, 1, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    located = Located(None, {}, {})
    if root is None:
        located.values[()] = (1, 1)
        return located
    located.data = _build(loader, root, (), located, path)
    return located


def _build(loader: yaml.SafeLoader, node: yaml.Node, loc: KeyPath, out: Located,
           path: str) -> Any:
    out.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problem = Problem(path, *_mark(key_node), "merge keys are not supported")
                raise FileProblems([problem])
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                raise FileProblems([Problem(path, *_mark(key_node), "a key must be a plain value")])
            if key in result:
                raise FileProblems([Problem(path, *_mark(key_node), f"duplicate key {key!r}")])
            out.keys[(*loc, key)] = _mark(key_node)
            result[key] = _build(loader, value_node, (*loc, key), out, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*loc, i), out, path) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise FileProblems([Problem(path, *_mark(node), f"invalid value: {exc.problem}")]) from None


def read(path: Path) -> Located:
    try:
        # Refused before reading: a multi-gigabyte "config" must not be pulled into memory.
        if path.stat().st_size > 4 * MAX_CHARS:  # UTF-8: at most 4 bytes a character
            raise LimitExceeded([Problem(str(path), 1, 1, f"the file is larger than "
                                                          f"{MAX_CHARS:,} characters "
                                                          "(refused)")])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblems([Problem(str(path), 1, 1, f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise FileProblems([Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")]) from None
    return parse(text, str(path))


def _unwrap(annotation: Any) -> list[Any]:
    """The model types an annotation can hold, looking through Optional/list/dict."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    if origin in (list, tuple, set, frozenset):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    if origin is dict:
        args = typing.get_args(annotation)
        return _unwrap(args[1]) if len(args) == 2 else []
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return []


def _fields_at(model: type[pydantic.BaseModel], loc: Loc) -> list[str]:
    """Field names valid at `loc` (the mapping that holds a bad key)."""
    current: list[type[pydantic.BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[pydantic.BaseModel]] = []
        for m in current:
            field = m.model_fields.get(part)
            if field is None:
                nxt.extend(current if part not in m.model_fields else [])
                continue
            nxt.extend(_unwrap(field.annotation))
        current = nxt or current
    names: list[str] = []
    for m in current:
        names.extend(f.alias or name for name, f in m.model_fields.items())
    return names


def _message(error: Any, model: type[pydantic.BaseModel]) -> str:
    loc: Loc = tuple(error["loc"])
    dotted = ".".join(str(p) for p in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        close = difflib.get_close_matches(key, _fields_at(model, loc[:-1]), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"{dotted}: required key is missing"
    msg = error["msg"]
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    return f"{dotted}: {msg}" if dotted else msg


def _data_loc(data: Any, loc: Loc) -> Loc:
    """`loc` as a path in the data: pydantic puts the tag of a discriminated union's member
    into the location (`faults.0.bad_tick.factor`); the file has no such key."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and i < len(loc) - 1:
            continue  # a tag, not a key
        else:
            node = None
        out.append(part)
    return tuple(out)


def validate(model: type[M], located: Located, path: str, context: Any = None) -> M:
    data = {} if located.data is None else located.data
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _data_loc(data, tuple(error["loc"]))
            if error["type"] == "union_tag_invalid":  # point at the tag's own key
                loc = (*loc, str(error["ctx"]["discriminator"]).strip("'"))
            error = {**error, "loc": loc}
            if error["type"] == "extra_forbidden" and loc in located.keys:
                line, col = located.keys[loc]
            elif error["type"] == "missing":
                line, col = located.where(loc[:-1])
            else:
                line, col = located.where(loc)
            problems.append(Problem(path, line, col, _message(error, model)))
        problems.sort(key=lambda p: (p.line, p.column))
        raise FileProblems(problems) from None


def load(model: type[M], path: Path, context: Any = None) -> M:
    """Read, parse and validate a YAML file; raise FileProblems with located messages."""
    return validate(model, read(path), str(path), context)
