"""Per-exam options of the audio handler, read from ``submission["options"]``.

Every option has a default (the table in README.md, and :data:`DEFAULTS`); keys that are not
audio options are ignored, since one ``options`` object may serve several modalities. A bad
value raises :class:`ml_service.handler_api.SubmissionError` naming every bad key at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ml_service.handler_api import SubmissionError

__all__ = ["CHECKS", "DEFAULTS", "Options"]

CHECKS = ("speech", "multiple_speakers", "voice_mismatch", "background_noise",
          "mic_muted_or_dead", "conversation_hints")


def _opt(default: float, low: float, high: float) -> Any:
    return field(default=default, metadata={"range": (low, high)})


@dataclass(frozen=True)
class Options:
    """Thresholds of the six checks; see README.md for what each one means."""

    speech_threshold: float = _opt(0.5, 0.05, 0.95)
    speech_min_s: float = _opt(0.5, 0.0, 60.0)
    speech_merge_gap_s: float = _opt(1.0, 0.0, 60.0)
    vad_gate_db: float = _opt(-60.0, -120.0, 0.0)
    embed_hop_s: float = _opt(0.8, 0.1, 1.6)
    speaker_similarity: float = _opt(0.62, 0.0, 1.0)
    speaker_merge_similarity: float = _opt(0.88, 0.0, 1.0)
    speaker_clear_snr_db: float = _opt(10.0, -60.0, 60.0)
    speaker_min_s: float = _opt(3.0, 0.0, 600.0)
    speaker_episode_gap_s: float = _opt(10.0, 0.0, 3600.0)
    voice_match_threshold: float = _opt(0.70, 0.0, 1.0)
    voice_reject_threshold: float = _opt(0.50, 0.0, 1.0)
    voice_margin: float = _opt(0.10, 0.0, 1.0)
    voice_foreign_below: float = _opt(0.60, 0.0, 1.0)
    voice_dominant_ratio: float = _opt(0.8, 0.0, 1.0)
    noise_db: float = _opt(-42.0, -120.0, 0.0)
    noise_min_s: float = _opt(1.0, 0.0, 600.0)
    noise_merge_gap_s: float = _opt(0.5, 0.0, 60.0)
    mic_dead_db: float = _opt(-70.0, -120.0, 0.0)
    mic_dead_min_s: float = _opt(5.0, 0.1, 3600.0)
    dialogue_max_gap_s: float = _opt(5.0, 0.0, 600.0)
    dialogue_min_changes: int = _opt(2, 1, 1000)
    audio_checks: tuple[str, ...] = CHECKS

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> Options:
        """Defaults overridden by the audio keys of ``options``; every bad key reported together."""
        options = options or {}
        if not isinstance(options, Mapping):
            raise SubmissionError(f"options must be an object, got {type(options).__name__}")
        values: dict[str, Any] = {}
        problems = [p for f in _NUMBERS if f.name in options for p in _number(f, options[f.name], values)]
        if "audio_checks" in options:
            problems += _checks(options["audio_checks"], values)
        if problems:
            raise SubmissionError("bad audio option(s): " + "; ".join(problems))
        return cls(**values)

    def enabled(self, check: str) -> bool:
        return check in self.audio_checks


_NUMBERS = [f for f in fields(Options) if "range" in f.metadata]
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Options)}


def _number(spec: Any, value: Any, out: dict[str, Any]) -> list[str]:
    name, default, (low, high) = spec.name, spec.default, spec.metadata["range"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return [f"{name} must be a number, got {value!r}"]
    if isinstance(default, int) and not isinstance(default, bool) and int(value) != value:
        return [f"{name} must be a whole number, got {value!r}"]
    if not low <= value <= high:
        return [f"{name} must be within [{low:g}, {high:g}], got {value!r}"]
    out[name] = type(default)(value)
    return []


def _checks(value: Any, out: dict[str, Any]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [f"audio_checks must be a list of check names, got {value!r}"]
    unknown = sorted(set(value) - set(CHECKS))
    if unknown:
        return [f"audio_checks: unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}"]
    out["audio_checks"] = tuple(c for c in CHECKS if c in value)
    return []

