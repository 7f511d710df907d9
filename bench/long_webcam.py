"""Webcam quality over whole hours, one pass against segments in parallel processes.

    python bench/long_webcam.py [--minutes 60] [--processes 2 1] [--data DIR] [--seed N] [--json]

The labelled set (bench/quality.py) has clips of 30-60 s, shorter than a segment
(handlers/webcam/segments.py), so it never exercises the cuts. Here
``ml_service.samples.webcam.make_long`` makes the event hour (eight events every four
minutes, :func:`~ml_service.samples.webcam.long_truth`) and the clean hour; the handler runs on
both with ``ML_WEBCAM_PROCESSES`` set to each ``--processes`` value, and
:mod:`ml_service.samples.evaluation` scores the violations per check (false alarms per clean hour from
the clean hour). Recordings are reused as bench/speed.py reuses them (``DIR/webcam/long/``).

stdout: JSON lines, ``"record": "check"`` per (processes, check) and ``"record": "run"`` per
(processes, recording) with its wall time and segment count. stderr: progress and a table
(``--json``: neither). Exit 0 unless the command line is wrong (2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from _common import DEFAULT_DATA, emit, fmt, table
from speed import long_recording

from ml_service.samples import evaluation
from ml_service.samples.truth import Sample, recording_input
from ml_service.samples.webcam import long_truth

__all__ = ["main"]

Record = dict[str, Any]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/long_webcam.py", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of each recording")
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 1], help="ML_WEBCAM_PROCESSES values")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="recording folder (default: bench-data/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="JSON lines only: no progress, no table")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    if any(n < 1 for n in args.processes):
        _parser().error("--processes values must be positive")
    say = (lambda text: None) if args.json else (lambda text: print(text, file=err, flush=True))
    folder = args.data / "webcam" / "long"
    say(f"making or reusing the {args.minutes:g}-minute event and clean recordings in {folder} ...")
    recordings = {clean: long_recording("webcam", folder, args.minutes, args.seed, clean=clean) for clean in (False, True)}
    records: list[Record] = []
    for processes in args.processes:
        scored = []
        for clean, path in recordings.items():
            sample = Sample(name=path.stem, modality="webcam", recordings=[path], duration_s=args.minutes * 60,
                            truth=[] if clean else long_truth(args.minutes), clean=clean)
            run, violations = _run(path, processes)
            say(f"processes={processes} {path.name}: {len(violations)} violation(s), truth {len(sample.truth)}, "
                f"{run['wall_s']:.1f} s, {run['segments']} segment(s)")
            records.append({"record": "run", "processes": processes, "recording": path.name, **run})
            scored.append((sample, violations))
        for check in evaluation.checks_in(scored):
            records.append({"record": "check", "processes": processes, "check": check,
                            **evaluation.check_metrics(scored, check)})
    for record in records:
        emit(record, out)
    if not args.json:
        _print_table(records, err)
    return 0


def _run(path: Path, processes: int) -> tuple[Record, list[dict[str, Any]]]:
    from handlers.webcam.webcam import process

    before = os.environ.get("ML_WEBCAM_PROCESSES")
    os.environ["ML_WEBCAM_PROCESSES"] = str(processes)
    try:
        started = time.perf_counter()
        result, _ = process(recording_input("webcam", path))
        wall = time.perf_counter() - started
    finally:
        if before is None:
            os.environ.pop("ML_WEBCAM_PROCESSES", None)
        else:
            os.environ["ML_WEBCAM_PROCESSES"] = before
    files = result.get("media", {}).get("files") or [{}]
    run = {"wall_s": wall, "error_code": result.get("error_code"), "segments": files[0].get("segments"),
           "n_violations": len(result.get("violations", []))}
    return run, result.get("violations", [])


def _print_table(records: list[Record], err: TextIO) -> None:
    rows = [[str(r["processes"]), r["check"], fmt(r["precision"]), fmt(r["recall"]), fmt(r["mean_iou"]),
             fmt(r["false_alarms_per_clean_hour"], 1), str(r["n_truth"]), str(r["n_pred"])]
            for r in records if r["record"] == "check"]
    print(file=err)
    table(["processes", "check", "precision", "recall", "mean IoU", "FA/clean h", "truth", "pred"], rows, err)


if __name__ == "__main__":
    sys.exit(main())
