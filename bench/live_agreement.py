"""Live sessions against one pass: do segments (with the carry) find what one pass finds?

    python bench/live_agreement.py --modality M [--segment-s 60] [--order shuffled]
                                   [--reference-voice F] [--reference-photo F] RECORDING...
    python bench/live_agreement.py --demo-samples [--segment-s 10]

Each recording is analysed in one pass and as a live session (``ml_service.local.live_local``: cut
with ``ml_service.sandbox.live_cut``, played in order, or with every fourth segment swapped with the
one before it); the merged result is matched to the one-pass result per check: events of the
same type whose edges are within 1 s agree. ``--demo-samples`` takes the demo's labelled
samples of every modality. A keystroke recording is cut with its enrolment log (a recording
ending in ``.enrolment.json`` beside it) sent with every segment.

stdout: JSON lines, one per recording and one ``"record": "summary"`` per modality; stderr: a table.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import emit, table

from ml_service.core.handlers import run_handler
from ml_service.sandbox.live_cut import cut, plan
from ml_service.local.live_local import differences, run_segments
from ml_service.core.media_probe import probe

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/live_agreement.py", description=__doc__.split("\n")[0])
    parser.add_argument("recordings", nargs="*", type=Path)
    parser.add_argument("--modality", choices=["webcam", "screencast", "audio", "keystrokes"])
    parser.add_argument("--segment-s", type=float, default=60.0)
    parser.add_argument("--order", choices=["in-order", "shuffled"], default="in-order")
    parser.add_argument("--demo-samples", action="store_true", help="the demo's labelled samples, every modality")
    parser.add_argument("--reference-voice", type=Path, help="an enrolment clip sent with every recording (audio)")
    parser.add_argument("--reference-photo", type=Path, help="a reference photo sent with every recording (webcam)")
    return parser


def _duration(path: Path) -> float:
    if path.suffix == ".json":
        import json
        data = json.loads(path.read_text())
        events = data if isinstance(data, list) else data["events"]
        scale = 0.001 if isinstance(data, list) or data.get("time_unit", "ms") == "ms" else 1.0
        return float((data.get("duration") if isinstance(data, dict) else None) or events[-1]["t"]) * scale
    return float(probe(path)["duration_s"])


def compare(modality: str, recording: Path, extra: list[Path], refs: dict[str, Path | None], options: dict,
            segment_s: float, shuffled: bool, work: Path) -> dict[str, Any]:
    """One recording: one pass, then the live session; the events each found and where they differ."""
    handler = importlib.import_module(f"handlers.{modality}.{modality}").process
    item = lambda p: None if p is None else {"name": p.name, "path": str(p), "size": p.stat().st_size}  # noqa: E731
    base = {"submission_id": 1, "session_id": recording.stem, "modality": modality, "options": options,
            "reference_photo": item(refs.get("reference_photo")), "reference_voice": item(refs.get("reference_voice")),
            "work_dir": str(work)}
    whole, _ = run_handler(handler, {**base, "recordings": [item(recording), *map(item, extra)]})
    cuts = plan(_duration(recording), segment_s)
    files = cut(recording, work / recording.stem, cuts)
    order = list(range(len(cuts)))
    if shuffled:
        for k in range(3, len(order), 4):
            order[k - 1], order[k] = order[k], order[k - 1]
    played = run_segments(handler, base, [(c[0], [f, *extra]) for c, f in zip(cuts, files)], order)
    merged = played.final["violations"]
    found = differences(merged, whole["violations"])
    return {"record": "recording", "modality": modality, "name": recording.stem, "segments": len(cuts),
            "one_pass": len(whole["violations"]), "live": len(merged), "agree": not found, "differences": found,
            "gaps": len(played.final["live"]["gaps"]), "alerts": len(played.alerts)}


def _demo_jobs() -> list[tuple[str, Path, list[Path], dict, dict]]:
    from ml_service.sandbox.demo_samples import default_cache, make_demo_samples
    made = make_demo_samples(default_cache())
    return [(s.modality, s.recordings[0], list(s.recordings[1:]),
             {"reference_photo": s.reference_photo, "reference_voice": s.reference_voice}, dict(s.options))
            for found in made.values() for s in found]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.demo_samples:
        jobs = _demo_jobs()
    elif args.modality and args.recordings:
        refs = {"reference_voice": args.reference_voice, "reference_photo": args.reference_photo}
        jobs = [(args.modality, p.resolve(), _enrolment(p), refs, {}) for p in args.recordings]
    else:
        _parser().error("give --modality and recordings, or --demo-samples")
    rows, by_modality = [], {}
    with tempfile.TemporaryDirectory(prefix="live-agreement-") as tmp:
        for modality, recording, extra, refs, options in jobs:
            record = compare(modality, recording, extra, refs, options, args.segment_s,
                             args.order == "shuffled", Path(tmp))
            emit(record, sys.stdout)
            by_modality.setdefault(modality, []).append(record)
            rows.append([modality, record["name"], str(record["segments"]), str(record["one_pass"]),
                         str(record["live"]), "yes" if record["agree"] else "; ".join(record["differences"])[:90]])
    for modality, records in by_modality.items():
        emit({"record": "summary", "modality": modality, "recordings": len(records),
              "agree": sum(r["agree"] for r in records), "one_pass_events": sum(r["one_pass"] for r in records),
              "live_events": sum(r["live"] for r in records)}, sys.stdout)
    table(["modality", "recording", "segments", "one pass", "live", "same events, edges within 1 s"], rows, sys.stderr)
    return 0


def _enrolment(path: Path) -> list[Path]:
    twin = path.with_name(path.stem + ".enrolment.json")
    return [twin.resolve()] if path.suffix == ".json" and twin.exists() else []


if __name__ == "__main__":
    sys.exit(main())
