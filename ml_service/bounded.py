"""Bounds on untrusted input: short excerpts for messages and logs.

A message that reaches the LMS, a status event or a log line quotes at most
:func:`excerpt` of any input (a file name, a field's value, a server's reply), and the whole
text is at most :func:`clamp`-ed: a 1.5 MB wrong-typed field must not come back as a 3 MB
answer that XQueue refuses, nor fill the logs.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["EXCERPT_CHARS", "MESSAGE_CHARS", "clamp", "excerpt"]

EXCERPT_CHARS = 80
MESSAGE_CHARS = 1000

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = EXCERPT_CHARS


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, saying how long a long text was."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a hostile object's __repr__ must not break a message
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit + 20 else text[:limit] + "..."


def clamp(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"
