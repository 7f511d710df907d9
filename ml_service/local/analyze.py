"""``python -m ml_service analyze``: run the analysers on local recordings, with no server.

Each modality's recordings go to the handler the worker would run for it
(``handlers.<modality>.<modality>.process``, or ``--handler``), isolated and limited as in the
worker (:mod:`ml_service.local.local_run`); a modality whose handler is not installed falls back to
the debug handler, and says so. ``--modality auto`` (the default) tells each recording's
modality by the rules of :mod:`ml_service.local.modality_probe`, so one call can take a session's
webcam, screen and audio recordings; each modality is analysed in turn.

The output folder gets ``result.json`` (:func:`result_document`) and ``report.html``
(:mod:`ml_service.local.report`); the terminal gets a summary (:mod:`ml_service.local.analyze_summary`).
Exit status: 0 when every analysis succeeded, 1 when one failed, 2 for a usage error, 130
when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from ml_service.local.analyze_summary import summary_table
from ml_service.local.local_run import Run, Session, default_handler, execute
from ml_service.core.logs import configure_logging
from ml_service.local.modality_probe import MODALITIES, ModalityError, guess_modality, reference_role
from ml_service.local.report import render_report

__all__ = ["ANALYZE_SCHEMA", "main", "plan", "result_document"]

ANALYZE_SCHEMA = "ml-service/analyze/1"


class UsageError(ValueError):
    """A bad command line: a missing file, bad options, two references of one kind."""


def main(argv: list[str] | None = None) -> int:
    """Run ``analyze`` with ``argv`` (the words after ``analyze``); return the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging("INFO" if args.verbose else "WARNING", "text", [])
    try:
        options = _read_options(args.options)
        references = _references(args.reference or [])
        runs = plan(args.recordings, args.modality, args.handler)
    except (UsageError, ModalityError) as exc:
        print(f"analyze: {exc}", file=sys.stderr)
        return 2
    session_id = args.session_id or args.recordings[0].stem.lstrip(".") or "session"
    if "/" in session_id or session_id.startswith("."):
        print(f"analyze: --session-id {session_id!r} must be a plain name", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        for number, run in enumerate(tqdm(runs, desc="analysing", unit="modality", disable=None), 1):
            execute(run, Session(session_id, number, options, references), args.timeout, args.memory_mb)
        args.out.mkdir(parents=True, exist_ok=True)
        document = result_document(runs, session_id, time.monotonic() - started)
        (args.out / "result.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        report = render_report(_results(runs), _media(runs), args.out / "report.html", session_id=session_id,
                               runs={r.modality: {"handler": r.handler, "note": r.note} for r in runs},
                               progress=_progress("evidence"))
    except KeyboardInterrupt:
        print("analyze: interrupted", file=sys.stderr)
        return 130
    print(summary_table(document, args.out / "result.json", report))
    return 0 if all(r.result and r.result["error_code"] == 0 for r in runs) else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml_service analyze", description=(
        "Analyse local recordings of one session with the worker's handlers; write result.json and report.html."))
    p.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING")
    p.add_argument("--modality", default="auto", choices=("auto", *MODALITIES),
                   help="modality of every recording (default auto: .json keystrokes, audio-only audio, "
                        "video of 1280x720 or more screencast, smaller video webcam)")
    p.add_argument("--reference", action="append", type=Path, metavar="PHOTO_OR_VOICE",
                   help="reference photo or voice sample (repeat for both)")
    p.add_argument("--options", type=Path, metavar="EXAM_JSON", help="JSON object of per-exam options")
    p.add_argument("--handler", metavar="DOTTED_PATH", help="run this handler for every modality (no fallback)")
    p.add_argument("--session-id", help="session id in the results (default: the first recording's name)")
    p.add_argument("--out", type=Path, default=Path("analysis"), help="output folder (default: ./analysis)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="time limit per modality (600)")
    p.add_argument("--memory-mb", type=float, metavar="N",
                   help="memory cap of the handler process (default: the worker's for the modality)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    return p


def _read_options(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--options {path}: {exc}") from exc
    if not isinstance(options, dict):
        raise UsageError(f"--options {path}: must hold a JSON object, not {type(options).__name__}")
    return options


def _references(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in _existing(paths):
        role = reference_role(path)
        if role in found:
            raise UsageError(f"two references of one kind ({role}): {found[role].name} and {path.name}")
        found[role] = path
    return found


def _existing(paths: Iterable[Path]) -> list[Path]:
    paths = list(paths)
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    return list(paths)


def plan(recordings: list[Path], modality: str = "auto", handler: str | None = None) -> list[Run]:
    """Group the recordings by modality (told or guessed), in the order they were given."""
    groups: dict[str, list[Path]] = {}
    for path in _existing(recordings):
        groups.setdefault(guess_modality(path) if modality == "auto" else modality, []).append(path)
    if modality == "auto":
        for name, paths in groups.items():
            print(f"analyze: {name}: {', '.join(p.name for p in paths)}", file=sys.stderr)
    return [Run(m, paths, handler or default_handler(m), explicit=handler is not None)
            for m, paths in groups.items()]


def _progress(desc: str) -> Any:
    return lambda items, total: tqdm(items, total=total, desc=desc, unit="thumb", disable=None, leave=False)


def _results(runs: list[Run]) -> dict[str, dict[str, Any]]:
    return {r.modality: r.result for r in runs if r.result is not None}


def _media(runs: list[Run]) -> dict[str, Path]:
    """Per modality, the recording thumbnails come from: the first that is not a keystroke log."""
    media = {}
    for run in runs:
        first = next((p for p in run.recordings if p.suffix.lower() != ".json"), None)
        if first is not None:
            media[run.modality] = first
    return media


def result_document(runs: list[Run], session_id: str, total_s: float) -> dict[str, Any]:
    """``result.json``: each modality's result (the result schema) and how it was obtained."""
    return {
        "schema": ANALYZE_SCHEMA,
        "session_id": session_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "total_s": round(total_s, 3),
        "modalities": {
            r.modality: {"handler": r.handler, "note": r.note, "recordings": [str(p) for p in r.recordings],
                         "msg": r.msg, "result": r.result}
            for r in runs
        },
    }


if __name__ == "__main__":
    sys.exit(main())
