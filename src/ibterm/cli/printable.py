"""User-supplied text made safe to print to a terminal.

Profile names, symbols and paths come from files and arguments: a right-to-left override
(U+202E) makes `paper\u202eevil` read backwards, an escape sequence can recolour or retitle
the terminal, and a 10,000-character symbol fills the screen. `printable` shows such
characters as Python escapes (`\\u202e`, `\\x1b`) and cuts long text to a prefix.
"""

from __future__ import annotations

import unicodedata

# Cc: C0/C1 controls and DEL; Cf: format characters, the bidi overrides, embeddings and
# isolates, zero-width joiners and marks among them; Zl/Zp: line and paragraph separators;
# Cs/Co/Cn: surrogates, private use, unassigned (nothing a name needs, any of it may be
# drawn unpredictably).
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
DEFAULT_LIMIT = 120


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """`text` (str() of it) with hidden and control characters escaped and, past `limit`
    characters, cut to a prefix ending in '…' (None: no limit, for whole paths)."""
    value = str(text)
    cut = limit is not None and len(value) > limit
    if cut:
        value = value[:limit]
    out = "".join(_escape(ch) if unicodedata.category(ch) in _HIDDEN else ch
                  for ch in value)
    return out + "…" if cut else out
