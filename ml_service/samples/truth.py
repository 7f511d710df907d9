"""Labelled samples: the :class:`Sample` record, its truth file, and the handler's input.

A sample is one generated recording (or a few) plus the violations it really contains, in the
result schema's vocabulary (``{"type", "start_s", "end_s"}``). Each modality's generator in
``ml_service/samples/<modality>.py`` returns samples; the harness writes them next to their media
as ``<folder>/<name>.truth.json`` and reads them back. Paths in a truth file are stored relative
to the folder holding it, so a data folder can be moved or shared as a whole.

:func:`handler_input` builds exactly the dict the worker gives ``process()`` (see
``docs/contracts.md`` §2 and :func:`ml_service.core.job.handler_input`).

Truth file format (``ml-service/truth/1``)::

    {"schema": "ml-service/truth/1", "name": "webcam-leaves", "modality": "webcam",
     "recordings": ["webcam-leaves.webm"], "duration_s": 30.0,
     "truth": [{"type": "face_absent", "start_s": 10.0, "end_s": 18.0}],
     "clean": false, "options": {}, "reference_photo": "ref.jpg", "reference_voice": null,
     "checks": ["face_absent"]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TRUTH_SCHEMA", "TRUTH_SUFFIX", "Sample", "handler_input", "read_truth", "recording_input",
           "write_truth"]

TRUTH_SCHEMA = "ml-service/truth/1"
TRUTH_SUFFIX = ".truth.json"


@dataclass
class Sample:
    """One labelled recording set. ``truth`` events need ``type``, ``start_s``, ``end_s``.

    A ``clean`` sample is a control clip: it must have no truth event. ``checks`` names the
    violation types the sample is meant to exercise; per-check metrics look at those samples,
    at samples whose truth has that type, and at every clean sample.
    """

    name: str
    modality: str
    recordings: list[Path]
    duration_s: float
    truth: list[dict[str, Any]]
    clean: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    reference_photo: Path | None = None
    reference_voice: Path | None = None
    checks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.recordings = [Path(p) for p in self.recordings]
        self.reference_photo = Path(self.reference_photo) if self.reference_photo else None
        self.reference_voice = Path(self.reference_voice) if self.reference_voice else None
        self.duration_s = float(self.duration_s)
        self.truth = [_checked_event(self.name, i, e) for i, e in enumerate(self.truth)]
        self.checks = list(self.checks)
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"sample name {self.name!r} must be a plain, non-empty file name")
        if self.clean and self.truth:
            raise ValueError(f"sample {self.name!r} is marked clean but has {len(self.truth)} truth event(s)")


def _checked_event(name: str, index: int, event: Any) -> dict[str, Any]:
    where = f"sample {name!r} truth[{index}]"
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError(f"{where}: needs a dict with a string 'type', got {event!r}")
    try:
        start, end = float(event["start_s"]), float(event["end_s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: needs numeric 'start_s' and 'end_s', got {event!r}") from exc
    if start < 0 or end < start:
        raise ValueError(f"{where}: needs 0 <= start_s <= end_s, got {start}..{end}")
    return {**event, "start_s": start, "end_s": end}


def write_truth(sample: Sample, folder: Path) -> Path:
    """Write ``<folder>/<name>.truth.json`` (paths relative to ``folder``); return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": TRUTH_SCHEMA,
        "name": sample.name,
        "modality": sample.modality,
        "recordings": [_relative(p, folder) for p in sample.recordings],
        "duration_s": sample.duration_s,
        "truth": sample.truth,
        "clean": sample.clean,
        "options": sample.options,
        "reference_photo": _relative(sample.reference_photo, folder),
        "reference_voice": _relative(sample.reference_voice, folder),
        "checks": sample.checks,
    }
    path = folder / f"{sample.name}{TRUTH_SUFFIX}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_truth(path: Path) -> Sample:
    """Read a truth file; its relative paths are resolved against the file's folder."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != TRUTH_SCHEMA:
        raise ValueError(f"{path}: not a {TRUTH_SCHEMA} truth file")
    folder = path.parent.absolute()
    try:
        return Sample(
            name=data["name"],
            modality=data["modality"],
            recordings=[folder / p for p in data["recordings"]],
            duration_s=data["duration_s"],
            truth=data["truth"],
            clean=bool(data.get("clean", False)),
            options=data.get("options") or {},
            reference_photo=_absolute(data.get("reference_photo"), folder),
            reference_voice=_absolute(data.get("reference_voice"), folder),
            checks=data.get("checks") or [],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed truth file: {exc!r}") from exc


def _relative(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    return os.path.relpath(Path(path).absolute(), Path(folder).absolute())


def _absolute(text: str | None, folder: Path) -> Path | None:
    return None if text is None else folder / text


def handler_input(sample: Sample, work_dir: Path, submission_id: int = 1) -> dict[str, Any]:
    """The exact, JSON-serialisable dict the worker passes to a handler's ``process()``.

    ``work_dir`` is created if needed (the worker's job folder always exists). The media are
    not copied: paths point at the sample's own files, made absolute.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    return {
        "submission_id": submission_id,
        "session_id": sample.name,
        "modality": sample.modality,
        "options": dict(sample.options),
        "recordings": [_file_item(p) for p in sample.recordings],
        "reference_photo": _file_item(sample.reference_photo),
        "reference_voice": _file_item(sample.reference_voice),
        "grader": None,  # grader_payload's grader: none outside XQueue
        "work_dir": str(work_dir.absolute()),
    }


def recording_input(modality: str, path: Path) -> dict[str, Any]:
    """The handler dict for one recording with default options (the speed benchmarks use it)."""
    path = Path(path)
    return {"submission_id": 1, "session_id": path.stem, "modality": modality, "options": {},
            "recordings": [_file_item(path)], "reference_photo": None, "reference_voice": None,
            "work_dir": str(path.parent.absolute())}


def _file_item(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    path = Path(path).absolute()
    return {"name": path.name, "path": str(path), "size": path.stat().st_size}
