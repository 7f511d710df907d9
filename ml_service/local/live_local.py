"""A live session played through a handler in this process: no XQueue, no platform.

:func:`run_segments` does what the platform and the workers do together, in one process: each
segment goes to the handler with the carry of the answers so far (:class:`CarryKeeper`, the
platform's rule), through the same :class:`~ml_service.core.live.LiveJob` the worker uses. Tests
and benchmarks compare its final result with one pass over the whole recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_service.core.errors import HandlerError
from ml_service.core.handlers import Handler, run_handler
from ml_service.core.live import LiveJob, SegmentSpec
from ml_service.core.results import ErrorCode, error_result

__all__ = ["CarryKeeper", "Played", "differences", "file_item", "run_segments"]


class CarryKeeper:
    """The platform's side of the carry: keep each answer's carry unless another one holds
    every segment it holds; send what is kept (one object, or a list when answers crossed)."""

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []

    def add(self, carry: dict[str, Any] | None) -> None:
        if not carry:
            return
        seen = set(carry["seen"])
        if any(seen <= set(k["seen"]) for k in self.kept):
            return
        self.kept = [k for k in self.kept if not set(k["seen"]) <= seen] + [carry]

    def current(self) -> dict[str, Any] | list[dict[str, Any]] | None:
        if not self.kept:
            return None
        return self.kept[0] if len(self.kept) == 1 else list(self.kept)


@dataclass
class Played:
    """What a played session gave: every answer in order, and every alert announced."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any] | None:
        finals = [a for a in self.answers if a.get("live", {}).get("final")]
        return finals[-1] if finals else None


def file_item(path: Path | None) -> dict[str, Any] | None:
    """A handler's ``{name, path, size}`` entry for a local file."""
    if path is None:
        return None
    return {"name": path.name, "path": str(Path(path).absolute()), "size": Path(path).stat().st_size}


def run_segments(handler: Handler, base: dict[str, Any], segments: Sequence[tuple[float, list[Path]]],
                 order: Sequence[int] | None = None, carry_for: Callable[[int, CarryKeeper], Any] | None = None,
                 ) -> Played:
    """Play ``segments`` (``(offset_s, files)`` each) in ``order`` (default: as given; an index
    may repeat: a duplicate). ``base`` is the handler dict without recordings; ``carry_for``
    chooses the carry sent with a segment (default: what the keeper holds)."""
    keeper, played = CarryKeeper(), Played()
    last = len(segments) - 1
    for index in order if order is not None else range(len(segments)):
        offset, files = segments[index]
        carry = carry_for(index, keeper) if carry_for else keeper.current()
        job = LiveJob(SegmentSpec(index, offset, index == last, None, carry), base["session_id"],
                      base["modality"], base.get("submission_id", 1))
        if job.known is not None:
            result, _ = job.answer_known()
        else:
            submission = {**base, "recordings": [file_item(p) for p in files], "segment": job.handler_view()}
            result, msg = _run(handler, submission)
            result, _ = job.finish(result, msg, [p.name for p in files], played.alerts.append)
        played.answers.append(result)
        keeper.add(result.get("carry"))
    return played


def _run(handler: Handler, submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    try:
        return run_handler(handler, submission)
    except HandlerError as exc:
        return error_result(submission["modality"], ErrorCode(exc.error_code), str(exc)), str(exc)


def differences(found: Sequence[dict[str, Any]], expected: Sequence[dict[str, Any]], edge_s: float = 1.0) -> list[str]:
    """How two violation lists differ, as text (empty when they agree): each event of one with
    no event of the same type in the other whose edges are both within ``edge_s``."""
    left, problems = list(expected), []
    for event in sorted(found, key=lambda v: (v["type"], v["start_s"])):
        twin = next((e for e in left if e["type"] == event["type"] and abs(e["start_s"] - event["start_s"]) <= edge_s
                     and abs(e["end_s"] - event["end_s"]) <= edge_s), None)
        if twin is None:
            problems.append(f"only live: {event['type']} {event['start_s']:.2f}-{event['end_s']:.2f}")
        else:
            left.remove(twin)
    problems += [f"only one pass: {e['type']} {e['start_s']:.2f}-{e['end_s']:.2f}" for e in left]
    return problems
