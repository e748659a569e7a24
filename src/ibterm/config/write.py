"""Writing back to the user's config: a round trip that keeps comments and layout,
replacing the file atomically (a crash leaves the old file or the new one, never half)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ibterm.config import yamlfile


def save_watchlist(path: Path, profile: str, symbols: list[str]) -> None:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    text = path.read_text(encoding="utf-8")
    # The same limits as every other load (alias bombs, deep nesting): ruamel has none,
    # and would end in a RecursionError. Raises yamlfile.FileProblems.
    yamlfile.parse(text, str(path))
    data = yaml.load(text)
    profiles = data.get("profiles") if isinstance(data, CommentedMap) else None
    if not isinstance(profiles, CommentedMap) or profile not in profiles:
        raise KeyError(f"{path} has no profile {profile!r}")
    settings = profiles[profile]
    if settings is None:
        settings = profiles[profile] = CommentedMap()
    current = settings.get("watchlist")
    if isinstance(current, CommentedSeq):
        # Edit the sequence in place so its comments and flow/block style stay.
        del current[:]
        current.extend(symbols)
    else:
        settings["watchlist"] = CommentedSeq(symbols)
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
