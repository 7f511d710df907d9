"""The keystroke log: its JSON format, and reading it into arrays with every rule checked.

A log is a JSON object (or a bare list of events, read with ``time_unit`` ``"ms"``)::

    {"format": "keystrokes/1", "time_unit": "ms", "duration": 120000,
     "events": [{"t": 1520, "type": "down", "key": "9f86d081"},
                {"t": 1604, "type": "up", "key": "9f86d081"},
                {"t": 30500, "type": "paste", "chars": 412}]}

- ``t``: time since the session started, in ``time_unit`` (``"ms"``, the default, or ``"s"``);
  finite, >= 0, and never smaller than the event before it.
- ``type``: ``down`` / ``up`` (need ``key``), ``paste`` (needs ``chars``, an integer >= 0).
  Other types (``focus``, ``blur``, ...) are allowed and ignored.
- ``key``: the key's identity, a string (1-128 characters) or an integer: a key code or a
  hash of one. Only equality matters; key content is never needed.
- ``duration`` (optional): the session's length in ``time_unit``.

A ``down`` for a key that is already down is an auto-repeat and is not a keystroke; an ``up``
without its ``down`` pairs with nothing. Both are still keyboard activity (``activity_t``: a
stretch holding one of them is not idle). Anything else that breaks a rule raises
:class:`LogError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KeyLog", "LogError", "read_log", "parse_log"]

_UNITS = {"ms": 0.001, "s": 1.0}
_MAX_KEY_CHARS = 128


class LogError(ValueError):
    """A keystroke log that cannot be read: not JSON, wrong shape, or an event breaks a rule."""


@dataclass(frozen=True)
class KeyLog:
    """One log as arrays, times in seconds. ``up_t`` is NaN where a keystroke has no ``up``."""

    name: str
    down_t: np.ndarray
    up_t: np.ndarray
    key: np.ndarray
    paste_t: np.ndarray
    paste_chars: np.ndarray
    activity_t: np.ndarray  # every down (repeats too), up (unmatched too) and paste: what idle looks at
    duration_s: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def keystrokes(self) -> int:
        return len(self.down_t)


def read_log(path: Path, name: str, vocab: dict[str, int], max_bytes: int) -> KeyLog:
    """Read and check the log at ``path``; key identities are numbered in the shared ``vocab``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LogError(f"{name}: cannot be opened: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise LogError(f"{name}: {size} bytes is more than max_log_bytes ({max_bytes})")
    try:
        data = json.loads(path.read_bytes(), parse_constant=_reject_constant)
    except OSError as exc:
        raise LogError(f"{name}: cannot be read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogError(f"{name}: not a JSON keystroke log: {exc}") from exc
    except RecursionError as exc:
        raise LogError(f"{name}: JSON nested too deeply") from exc
    except LogError as exc:
        raise LogError(f"{name}: {exc}") from exc
    return parse_log(data, name, vocab)


def _reject_constant(text: str) -> Any:
    raise LogError(f"JSON constant {text} is not allowed")


def parse_log(data: Any, name: str, vocab: dict[str, int]) -> KeyLog:
    """Check a decoded log and turn it into a :class:`KeyLog`."""
    events, scale, duration = _header(data, name)
    reader = _Reader(name, scale, vocab)
    for index, event in enumerate(events):
        reader.add(index, event)
    if duration is not None and duration < reader.last_t:
        raise LogError(f"{name}: duration {duration:g} s ends before the last event ({reader.last_t:g} s)")
    return reader.finish(duration if duration is not None else reader.last_t)


def _header(data: Any, name: str) -> tuple[list[Any], float, float | None]:
    if isinstance(data, list):
        return data, _UNITS["ms"], None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise LogError(f"{name}: expected an object with an 'events' list (or a list of events), "
                       f"got {type(data).__name__}")
    unit = data.get("time_unit", "ms")
    if unit not in _UNITS:
        raise LogError(f"{name}: time_unit must be 'ms' or 's', got {unit!r}")
    scale = _UNITS[unit]
    duration = data.get("duration")
    if duration is not None:
        if not _is_number(duration) or duration < 0:
            raise LogError(f"{name}: duration must be a number >= 0, got {duration!r}")
        duration = float(duration) * scale
    return data["events"], scale, duration


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Accumulates checked events; pairs each ``up`` with the open ``down`` of its key."""

    def __init__(self, name: str, scale: float, vocab: dict[str, int]) -> None:
        self.name, self.scale, self.vocab = name, scale, vocab
        self.down_t: list[float] = []
        self.up_t: list[float] = []
        self.key: list[int] = []
        self.paste_t: list[float] = []
        self.paste_chars: list[int] = []
        self.activity: list[float] = []
        self.open: dict[int, int] = {}  # key code -> index of its pending keystroke
        self.last_t = 0.0
        self.counts = {"events": 0, "auto_repeats": 0, "unmatched_ups": 0, "ignored": 0}

    def fail(self, index: int, problem: str) -> LogError:
        return LogError(f"{self.name}: event {index}: {problem}")

    def add(self, index: int, event: Any) -> None:
        if not isinstance(event, dict):
            raise self.fail(index, f"expected an object, got {type(event).__name__}")
        raw_t, kind = event.get("t"), event.get("type")
        if not _is_number(raw_t):
            raise self.fail(index, f"'t' must be a finite number, got {raw_t!r}")
        t = raw_t * self.scale
        if t < 0:
            raise self.fail(index, f"negative time {raw_t!r}")
        if t < self.last_t:
            raise self.fail(index, f"t={raw_t!r} is earlier than the event before it: events must be in time order")
        if not isinstance(kind, str):
            raise self.fail(index, f"'type' must be a string, got {kind!r}")
        self.last_t = t
        self.counts["events"] += 1
        if kind == "down":
            self._down(index, t, event)
        elif kind == "up":
            self._up(index, t, event)
        elif kind == "paste":
            self._paste(index, t, event)
        else:
            self.counts["ignored"] += 1

    def _code(self, index: int, event: dict[str, Any]) -> int:
        key = event.get("key")
        if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
            raise self.fail(index, f"'key' must be a non-empty string or an integer, got {key!r}")
        text = str(key)
        if len(text) > _MAX_KEY_CHARS:
            raise self.fail(index, f"'key' is longer than {_MAX_KEY_CHARS} characters")
        return self.vocab.setdefault(text, len(self.vocab))

    def _down(self, index: int, t: float, event: dict[str, Any]) -> None:
        code = self._code(index, event)
        self.activity.append(t)  # a held key's repeats are keyboard activity too (idle)
        if code in self.open:
            self.counts["auto_repeats"] += 1
            return
        self.open[code] = len(self.down_t)
        self.down_t.append(t)
        self.up_t.append(math.nan)
        self.key.append(code)

    def _up(self, index: int, t: float, event: dict[str, Any]) -> None:
        pending = self.open.pop(self._code(index, event), None)
        self.activity.append(t)  # so is a release whose press was not logged (idle)
        if pending is None:
            self.counts["unmatched_ups"] += 1
            return
        self.up_t[pending] = t

    def _paste(self, index: int, t: float, event: dict[str, Any]) -> None:
        chars = event.get("chars")
        if isinstance(chars, bool) or not isinstance(chars, int) or chars < 0:
            raise self.fail(index, f"a paste needs 'chars', an integer >= 0, got {chars!r}")
        self.paste_t.append(t)
        self.paste_chars.append(chars)
        self.activity.append(t)

    def finish(self, duration_s: float) -> KeyLog:
        counts = {**self.counts, "keystrokes": len(self.down_t), "pastes": len(self.paste_t)}
        return KeyLog(
            name=self.name,
            down_t=np.asarray(self.down_t, dtype=float),
            up_t=np.asarray(self.up_t, dtype=float),
            key=np.asarray(self.key, dtype=np.int64),
            paste_t=np.asarray(self.paste_t, dtype=float),
            paste_chars=np.asarray(self.paste_chars, dtype=np.int64),
            activity_t=np.asarray(self.activity, dtype=float),
            duration_s=float(duration_s),
            counts=counts,
        )
