"""Quality benchmark: run each modality's handler on its labelled set and score it per check.

    python bench/quality.py [--modality M ...] [--sample NAME ...] [--data DIR] [--seed N] [--force] [--json]
    python bench/quality.py --real [--modality M ...] [--real-cache DIR] [--force] [--json]

For every sample module (``ml_service/samples/<m>.py``) whose handler
``handlers.<m>.<m>.process`` imports, the labelled set is generated into ``DIR/<m>/`` (or
reused: see :func:`ml_service.samples.generate_set`), the handler runs in this process on each
sample with the worker's exact input (:func:`ml_service.samples.handler_input`, a fresh temp
work dir each), and :mod:`ml_service.samples.evaluation` scores the violations it reported.

stdout: JSON lines. ``"record": "check"`` per (modality, check) with precision, recall,
mean_iou, false_alarms_per_clean_hour and the counts behind them; ``"record": "modality"`` per
modality with its status (``ok``, ``no_handler``, ``handler_import_failed``,
``generator_import_failed``, ``no_generator``, ``generation_failed``), sample and error counts.
stderr: progress and, at the end, a table (``--json``: neither). A sample whose analysis
fails counts with no predictions (its truth events are missed). Exit 0 unless the command
line is wrong (2).

``--real`` scores the real sets instead (:mod:`ml_service.samples.realsets`: real recordings from public
sources, built into a local cache from local copies of their repositories); a modality whose
real set cannot be built here is reported with status ``real_set_unavailable`` and the reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from _common import DEFAULT_DATA, add_overlays, emit, fmt, table

from ml_service import samples

from ml_service.samples import evaluation, realsets
from ml_service.core.errors import HandlerLoadError, MLServiceError
from ml_service.core.handlers import Handler, load_handler, run_handler

__all__ = ["main"]

Record = dict[str, Any]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/quality.py", description=__doc__.split("\n")[0])
    parser.add_argument("--modality", action="append", default=[], metavar="M", help="only this one (repeatable)")
    parser.add_argument("--sample", action="append", default=[], metavar="NAME",
                        help="only this sample of the labelled set (repeatable; e.g. webcam-objects-phone)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="sample folder (default: bench-data/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="regenerate the sets even if reusable")
    parser.add_argument("--real", action="store_true", help="score the real sets (ml_service/samples/realsets/)")
    parser.add_argument("--real-cache", type=Path, default=None,
                        help="real-set cache (default: ML_REALDATA_CACHE or ~/.cache/ml-service/real)")
    parser.add_argument("--min-iou", type=float, default=0.3)
    parser.add_argument("--json", action="store_true", help="JSON lines only: no progress, no table")
    parser.add_argument("--modules-path", action="append", type=Path, default=[], metavar="ROOT",
                        help="a folder laid out like the repo with more modalities (tests)")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    add_overlays(args.modules_path)
    available = realsets.set_names() if args.real else samples.modality_names()
    unknown = sorted(set(args.modality) - set(available))
    if unknown:
        parser.error(f"unknown modality {', '.join(unknown)}; available: {', '.join(available) or 'none'}")
    progress = _Progress(None if args.json else err)
    logging.basicConfig(level=logging.ERROR if args.json else logging.WARNING, stream=err)
    records: list[Record] = []
    for name in args.modality or available:
        if args.sample and not any(s.startswith(f"{name}-") for s in args.sample):
            continue
        for record in _bench_modality(name, args, progress):
            emit(record, out)
            records.append(record)
    if not args.json:
        _print_table(records, err)
    return 0


class _Progress:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def __call__(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)


def _bench_modality(name: str, args: argparse.Namespace, progress: _Progress) -> list[Record]:
    kind = "real" if args.real else "generated"
    status: Record = {"record": "modality", "modality": name, "set": kind}
    handler, problem = _prepare(name)
    if problem:
        progress(f"{name}: {problem[0]}: {problem[1]}")
        return [{**status, "status": problem[0], "error": problem[1]}]
    progress(f"{name}: preparing the {'real' if args.real else 'labelled'} set ...")
    started = time.monotonic()
    try:
        sample_set, reused = _sample_set(name, args)
    except realsets.RealSetUnavailable as exc:
        progress(f"{name}: real set unavailable: {exc}")
        return [{**status, "status": "real_set_unavailable", "error": str(exc)}]
    except Exception as exc:  # noqa: BLE001 - one modality's generator must not stop the others
        progress(f"{name}: generation failed: {type(exc).__name__}: {exc}")
        return [{**status, "status": "generation_failed", "error": f"{type(exc).__name__}: {exc}"}]
    progress(f"{name}: {len(sample_set)} sample(s) {'reused' if reused else 'generated'} "
             f"in {time.monotonic() - started:.1f} s")
    pairs, errors, handler_s = _run_all(name, handler, sample_set, progress)
    checks = [
        {"record": "check", "modality": name, "set": kind, "check": check, **metrics}
        for check, metrics in evaluation.evaluate(pairs, min_iou=args.min_iou).items()
    ]
    summary = {**status, "status": "ok", "samples": len(sample_set), "errors": errors,
               "media_s": sum(s.duration_s for s in sample_set), "handler_s": handler_s, "reused": reused}
    return [*checks, summary]


def _sample_set(name: str, args: argparse.Namespace) -> tuple[list[samples.Sample], bool]:
    if args.real:
        return realsets.load_set(name, args.real_cache, force=args.force)
    only = [s for s in args.sample if s.startswith(f"{name}-")] or None
    return samples.generate_set(name, args.data / name, seed=args.seed, force=args.force, only=only)


def _prepare(name: str) -> tuple[Handler | None, tuple[str, str] | None]:
    try:
        module = samples.load_modality(name)
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return None, ("generator_import_failed", f"{type(exc).__name__}: {exc}")
    if not callable(getattr(module, "generate", None)):
        return None, ("no_generator", f"ml_service.samples.{name} has no generate()")
    if importlib.util.find_spec(f"handlers.{name}") is None:
        return None, ("no_handler", f"no handlers/{name}/ package")
    try:
        return load_handler(f"handlers.{name}.{name}.process"), None
    except HandlerLoadError as exc:
        return None, ("handler_import_failed", str(exc))


def _run_all(name: str, handler: Handler, sample_set: list[samples.Sample],
             progress: _Progress) -> tuple[list[tuple[samples.Sample, list[dict]]], int, float]:
    pairs, errors, total = [], 0, 0.0
    for number, sample in enumerate(sample_set, 1):
        started = time.monotonic()
        violations, problem = _run_one(handler, sample, number)
        took = time.monotonic() - started
        total += took
        errors += problem is not None
        outcome = problem or f"{len(violations)} violation(s), truth {len(sample.truth)}"
        progress(f"  [{name} {number}/{len(sample_set)}] {sample.name}: {outcome} ({took:.1f} s)")
        pairs.append((sample, violations))
    return pairs, errors, total


def _run_one(handler: Handler, sample: samples.Sample, number: int) -> tuple[list[dict], str | None]:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as work:
        try:
            result, msg = run_handler(handler, samples.handler_input(sample, Path(work), number))
        except MLServiceError as exc:  # HandlerError, or Retry (no retries here)
            return [], f"ERROR {type(exc).__name__}: {exc}"
    if result["error_code"] != 0:
        return [], f"ERROR result error_code {result['error_code']}: {msg}"
    return result["violations"], None


def _print_table(records: list[Record], err: TextIO) -> None:
    headers = ["modality", "check", "precision", "recall", "mean IoU", "FA/clean h", "truth", "pred", "samples"]
    rows = [
        [r["modality"], r["check"], fmt(r["precision"]), fmt(r["recall"]), fmt(r["mean_iou"]),
         fmt(r["false_alarms_per_clean_hour"], 1), str(r["n_truth"]), str(r["n_pred"]), str(r["n_samples"])]
        for r in records if r["record"] == "check"
    ]
    print(file=err)
    table(headers, rows, err)
    for r in records:
        if r["record"] == "modality" and r["status"] != "ok":
            print(f"{r['modality']}: {r['status']}: {r['error']}", file=err)
        elif r["record"] == "modality" and r["errors"]:
            print(f"{r['modality']}: the handler failed on {r['errors']} of {r['samples']} sample(s)", file=err)


if __name__ == "__main__":
    sys.exit(main())
