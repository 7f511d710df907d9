"""``python -m ml_service.samples``: write the labelled sample sets and their truth files.

    python -m ml_service.samples --out DIR [--modality M ...] [--seed N] [--force]
    python -m ml_service.samples --list

Each modality's set goes to ``DIR/<modality>/`` (media and ``<name>.truth.json``); a folder
already holding the same seed and generator version is reused unless ``--force``. Progress
goes to stderr, the summary (one line per sample) to stdout. Exit status: 0, 1 if a modality
failed to import or generate (the others are still written), 2 for a usage error.
``--modules-path ROOT`` also looks for modalities in ``ROOT/ml_service/samples/`` (tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from ml_service import samples as registry
from ml_service.samples.truth import Sample

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml_service.samples", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="folder to write DIR/<modality>/ into")
    parser.add_argument("--modality", action="append", default=[], metavar="M", help="only this one (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="regenerate even if a matching set is there")
    parser.add_argument("--list", action="store_true", help="list the modality modules and exit")
    parser.add_argument("--modules-path", action="append", type=Path, default=[], metavar="ROOT",
                        help="also search ROOT/ml_service/samples/ (repeatable)")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    for root in args.modules_path:
        registry.add_search_path(root / "ml_service" / "samples")
    available = registry.modality_names()
    unknown = sorted(set(args.modality) - set(available))
    if unknown:
        parser.error(f"unknown modality {', '.join(unknown)}; available: {', '.join(available) or 'none'}")
    chosen = args.modality or available
    if args.list:
        for name in chosen:
            print(_describe(name), file=out)
        return 0
    if args.out is None:
        parser.error("--out is required (or use --list)")
    failed = [name for name in chosen if not _write_one(name, args, out, err)]
    if failed:
        print(f"failed: {', '.join(failed)}", file=err)
    return 1 if failed else 0


def _describe(name: str) -> str:
    try:
        module = registry.load_modality(name)
    except Exception as exc:  # noqa: BLE001 - a broken module is listed, not fatal
        return f"{name}\timport failed: {type(exc).__name__}: {exc}"
    has = [f for f in ("generate", "make_long") if callable(getattr(module, f, None))]
    return f"{name}\t{', '.join(has) or 'no generate/make_long'}"


def _write_one(name: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> bool:
    folder = args.out / name
    print(f"{name}: generating into {folder} (seed {args.seed}) ...", file=err, flush=True)
    started = time.monotonic()
    try:
        samples, reused = registry.generate_set(name, folder, seed=args.seed, force=args.force)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other modalities
        print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=err, flush=True)
        return False
    how = "reused" if reused else f"generated in {time.monotonic() - started:.1f} s"
    print(f"{name}: {len(samples)} sample(s) {how}", file=err, flush=True)
    for sample in samples:
        print(_summary_line(sample), file=out)
    return True


def _summary_line(sample: Sample) -> str:
    types = sorted({e["type"] for e in sample.truth})
    what = "clean" if sample.clean else f"{len(sample.truth)} event(s) {','.join(types)}"
    return f"{sample.modality}\t{sample.name}\t{sample.duration_s:.1f} s\t{what}"


if __name__ == "__main__":
    sys.exit(main())
