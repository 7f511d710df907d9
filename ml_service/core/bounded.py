"""Bounds on untrusted input: short excerpts for messages and logs, limited reads and JSON.

A message that reaches the LMS, a status event or a log line quotes at most
:func:`excerpt` of any input (a file name, a field's value, a server's reply), and the whole
text is at most :func:`clamp`-ed: a 1.5 MB wrong-typed field must not come back as a 3 MB
answer that XQueue refuses, nor fill the logs.

:func:`loads` parses untrusted JSON with a size and a nesting limit checked *before* the
parser runs (Python's parser recurses: 10,000 levels raise ``RecursionError``, and a few
hundred break pickling later), and refuses ``NaN``/``Infinity`` (not JSON) and numbers that overflow to infinity.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import reprlib
from typing import Any

__all__ = ["EXCERPT_CHARS", "JSON_MAX_CHARS", "JSON_MAX_DEPTH", "JSONLimitError", "clamp", "excerpt", "json_depth",
           "loads", "read_capped"]

EXCERPT_CHARS = 80
MESSAGE_CHARS = 1000
JSON_MAX_CHARS = 1_000_000  # a session description is a few hundred bytes; a live segment's carries more (carry.py)
JSON_MAX_DEPTH = 32

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONLimitError(ValueError):
    """JSON over the size or nesting limit; the message names what and which limit."""


def loads(text: str | bytes, what: str, max_chars: int = JSON_MAX_CHARS, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``json.loads`` within limits: :class:`JSONLimitError` over them, ``ValueError`` if not JSON."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if len(text) > max_chars:
        raise JSONLimitError(f"{what} is {len(text)} characters, over the {max_chars}-character limit")
    if json_depth(text) > max_depth:
        raise JSONLimitError(f"{what} is nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:  # not reached after the depth check; kept as a guard
        raise JSONLimitError(f"{what} is nested deeper than {max_depth} levels") from exc


def read_capped(response: Any, limit: int) -> bool:
    """Read a streamed ``requests`` response's body, decompressed, up to ``limit`` bytes.

    True: the body is in the response (``.text``/``.content`` work as usual). False: it is
    longer; the connection is closed without reading the rest.
    """
    data = response.raw.read(limit + 1, decode_content=True)
    if len(data) > limit:
        response.close()
        return False
    response._content, response._content_consumed = data, True  # what .content would have set
    response.close()  # releases the connection to the pool, the body being read
    return True


def json_depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, outside strings (a linear scan, no recursion)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(_STEP[c] for c in brackets), default=0)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")

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
