"""Per-exam options of the keystroke handler: names, defaults and checking.

Options come from ``submission["options"]``; absent keys take the defaults below, keys of
other handlers are ignored, and a bad value raises :class:`OptionsError` naming the option.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["CHECKS", "Options", "OptionsError"]

CHECKS = ("typist_change", "paste_burst", "automation", "idle")


class OptionsError(ValueError):
    """An option has the wrong type or is out of range."""


@dataclass(frozen=True)
class Options:
    """Every option with its default (see the handler's README for what each one does)."""

    checks: tuple[str, ...] = CHECKS
    enrolment_recording: str | None = None
    max_log_bytes: int = 64 * 1024 * 1024
    idle_min_s: float = 30.0
    idle_include_edges: bool = False
    paste_min_chars: int = 50
    paste_merge_s: float = 5.0
    automation_window_keys: int = 40
    automation_max_log_sd: float = 0.10
    automation_max_keys_per_s: float = 20.0
    automation_min_s: float = 3.0
    typist_evidence: float = 120.0
    typist_drift: float = 1.0
    typist_memory_keys: int = 300
    typist_baseline_keys: int = 200
    typist_min_pair_count: int = 2
    typist_tempo_tolerance: float = 0.10
    typist_min_s: float = 10.0
    typist_merge_s: float = 30.0
    typist_session_effect: float = 0.8
    typist_session_significance: float = 10.0
    typist_flights_effect: float = 0.06
    typist_flights_significance: float = 4.0

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> Options:
        """Options from a submission's ``options``; raise :class:`OptionsError` on a bad value."""
        if options is None:
            return cls()
        if not isinstance(options, Mapping):
            raise OptionsError(f"options must be an object, got {type(options).__name__}")
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in options:
                values[f.name] = _check(f.name, options[f.name], f.default)
        return cls(**values)


def _check(name: str, value: Any, default: Any) -> Any:
    if name == "checks":
        if not isinstance(value, list) or not all(v in CHECKS for v in value):
            raise OptionsError(f"option checks must be a list drawn from {list(CHECKS)}, got {value!r}")
        return tuple(value)
    if name == "enrolment_recording":
        if value is not None and not (isinstance(value, str) and value):
            raise OptionsError(f"option {name} must be a file name or null, got {value!r}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise OptionsError(f"option {name} must be true or false, got {value!r}")
        return value
    wanted = int if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted) or not (math.isfinite(value) and value > 0):
        kind = "an integer" if wanted is int else "a number"
        raise OptionsError(f"option {name} must be {kind} > 0, got {value!r}")
    return float(value) if wanted is not int else value
