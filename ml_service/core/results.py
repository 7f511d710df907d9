"""The result contract: building, scoring and validating results, and the XQueue reply.

Every handler returns ``(result, msg)``; the result follows ``schemas/result.schema.json``
(version ``ml-service/result/1``). Handlers build theirs with :func:`build_result`; the
worker validates every result with :func:`validate_result` before it is sent, and turns
failures into :func:`error_result`. :func:`xqueue_reply` is the ``xqueue_body`` of put_result.
"""

from __future__ import annotations

import hashlib
import html
import json
from enum import IntEnum
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

import jsonschema

__all__ = [
    "RESULT_SCHEMA_ID",
    "ErrorCode",
    "build_result",
    "compute_stats",
    "error_result",
    "result_schema",
    "trust_score",
    "validate_result",
    "xqueue_reply",
]

RESULT_SCHEMA_ID = "ml-service/result/1"


class ErrorCode(IntEnum):
    """Values of ``error_code``: one per way an analysis can fail."""

    OK = 0
    HANDLER_RAISED = 1
    INVALID_RESULT = 2
    MEDIA_DOWNLOAD = 3
    BAD_SUBMISSION = 4
    TIMEOUT = 5
    OUT_OF_MEMORY = 6
    HANDLER_CRASHED = 7
    MEDIA_UNREADABLE = 8
    HANDLER_LOAD = 9
    INTERRUPTED = 10
    NOT_STORED = 11


@lru_cache(maxsize=None)
def result_schema() -> dict[str, Any]:
    """The result JSON Schema shipped in the package."""
    text = resources.files("ml_service.core.schemas").joinpath("result.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_result(result: Any) -> list[str]:
    """Return every schema violation of ``result`` as readable text (empty = valid)."""
    validator = jsonschema.Draft202012Validator(result_schema())
    problems = []
    for err in sorted(validator.iter_errors(result), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "(root)"
        problems.append(f"{where}: {err.message}")
    if not problems:
        problems.extend(_interval_problems(result["violations"]))
    if not problems:
        problems.extend(_json_problems(result))
    return problems


def _json_problems(result: Any) -> list[str]:
    """A value JSON cannot carry (a numpy number, a set, NaN): the schema accepts a numpy float
    as a number, but the answer could then not be sent."""
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return [f"(root): not plain JSON: {exc}"]
    return []


def _interval_problems(violations: list[Mapping[str, Any]]) -> list[str]:
    return [
        f"violations/{i}: end_s {v['end_s']} is before start_s {v['start_s']}"
        for i, v in enumerate(violations)
        if v["end_s"] < v["start_s"]
    ]


def compute_stats(
    violations: Iterable[Mapping[str, Any]], duration_s: float | None
) -> dict[str, dict[str, float | int]]:
    """Per violation type: count, total seconds (overlaps merged) and share of the session."""
    by_type: dict[str, list[tuple[float, float]]] = {}
    for v in violations:
        by_type.setdefault(v["type"], []).append((float(v["start_s"]), float(v["end_s"])))
    stats: dict[str, dict[str, float | int]] = {}
    for vtype, spans in sorted(by_type.items()):
        total = _union_length(spans)
        share = min(1.0, total / duration_s) if duration_s else 0.0
        stats[vtype] = {"count": len(spans), "total_s": round(total, 3), "share": round(share, 4)}
    return stats


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def trust_score(violations: Iterable[Mapping[str, Any]], duration_s: float | None) -> float:
    """1.0 when nothing is suspicious; falls with the confidence-weighted suspicious share.

    Each violation costs ``confidence * max(duration share, 0.02)`` (a short event still
    counts), and costs multiply: ``score = prod(1 - cost)``.
    """
    score = 1.0
    for v in violations:
        length = max(0.0, float(v["end_s"]) - float(v["start_s"]))
        share = length / duration_s if duration_s else 0.0
        cost = float(v["confidence"]) * min(1.0, max(share, 0.02))
        score *= 1.0 - cost
    return round(max(0.0, min(1.0, score)), 4)


def build_result(
    modality: str,
    violations: list[dict[str, Any]],
    media: dict[str, Any],
    processing_time_s: float,
) -> dict[str, Any]:
    """A successful result in the shared schema, with stats and score derived."""
    duration = media.get("duration_s")
    ordered = sorted(violations, key=lambda v: (v["start_s"], v["type"]))
    return {
        "schema": RESULT_SCHEMA_ID,
        "modality": modality,
        "error_code": int(ErrorCode.OK),
        "processing_time_s": round(max(0.0, processing_time_s), 3),
        "media": media,
        "violations": ordered,
        "stats": compute_stats(ordered, duration),
        "score": trust_score(ordered, duration),
    }


def error_result(
    modality: str, code: ErrorCode, msg: str, processing_time_s: float = 0.0
) -> dict[str, Any]:
    """A schema-valid result that reports a failed analysis."""
    return {
        "schema": RESULT_SCHEMA_ID,
        "modality": modality,
        "error_code": int(code),
        "processing_time_s": round(max(0.0, processing_time_s), 3),
        "media": {},
        "violations": [],
        "stats": {},
        "score": 0.0,
        "msg": msg,
    }


def xqueue_reply(result: Mapping[str, Any], msg: str, score: float | int | None = None) -> str:
    """The put_result ``xqueue_body``: ``correct``/``score``/``msg`` for the LMS, plus ``result``.

    ``score`` is the number the server stores (``ml_service.core.flavour.ScorePolicy``; default:
    the trust score). Delivery is at-least-once, so the answer carries what an LMS
    deduplicates by: ``submission_id`` and ``session_id``, and ``answer_id``, the same for
    every copy of the same answer.
    """
    ok = result["error_code"] == 0
    summary = f"{len(result['violations'])} suspected violation(s), trust score {result['score']:.2f}"
    text = f"{summary}. {msg}" if ok else f"analysis failed (error {result['error_code']}): {msg}"
    canonical = json.dumps(result, separators=(",", ":"), sort_keys=True)
    reply = {
        "correct": ok,
        "score": result["score"] if score is None else score,
        "msg": f"<p>{html.escape(text)}</p>",
        "result": result,
        "submission_id": result.get("submission_id"),
        "session_id": result.get("session_id"),
        "answer_id": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32],
    }
    return json.dumps(reply, separators=(",", ":"), sort_keys=True)
