"""The keystroke handler on the real typist set, scored the way a proctor reads it.

    python bench/real_keystrokes.py [--real-cache DIR] [--force] [--option NAME=VALUE ...] [--json]

Builds (or reuses) the real set (:mod:`ml_service.samples.realsets.keystrokes`) and runs the handler on
every session with its enrolment. Per source (``fr`` free text, ``aalto`` fixed text) and half
(``tune``: the people the thresholds were chosen on; ``held``: the others), and over all:

- ``change_found``: share of A-then-B sessions with a ``typist_change`` overlapping B's part;
  ``start_30s``: share whose first such report starts within 30 s of the switch;
  ``start_err_median_s``: median ``start - switch`` of the found ones;
- ``impostor_found``: share of B-against-A's-enrolment sessions with a ``typist_change``;
- ``fa_per_10h``: ``typist_change`` reports on clean sessions per 10 clean hours, and
  ``early_fa``: reports ending before the switch in change sessions (A's own part);
- ``paste_burst`` / ``automation``: reports on any session (real typing has neither).

stdout: one JSON line per group; stderr: a table (``--json``: nothing). Exit 1 when the set
cannot be built here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import emit, fmt, table

from handlers.keystrokes.keystrokes import process
from ml_service.samples import realsets
from ml_service.samples import Sample, handler_input

__all__ = ["main", "score"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/real_keystrokes.py", description=__doc__.split("\n")[0])
    parser.add_argument("--real-cache", type=Path, default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a handler option (JSON value) for every session")
    parser.add_argument("--json", action="store_true")
    return parser


def _run(sample: Sample, options: dict[str, Any], work: Path) -> list[dict[str, Any]]:
    item = handler_input(sample, work)
    item["options"] = {**item["options"], **options}
    result, msg = process(item)
    if result["error_code"]:
        raise RuntimeError(f"{sample.name}: {msg}")
    return result["violations"]


def _group(sample: Sample) -> tuple[str, str, str]:
    _, src, half, kind = sample.name.split("-")[:4]
    return src, half, kind


def score(pairs: list[tuple[Sample, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One record per (source, half), per source, and for everything."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for sample, found in pairs:
        src, half, _ = _group(sample)
        for key in ((src, half), (src, "all"), ("all", half), ("all", "all")):
            groups[key].append((sample, found))
    return [{"source": src, "half": half, **_metrics(items)} for (src, half), items in sorted(groups.items())]


def _metrics(items: list[tuple[Sample, list[dict[str, Any]]]]) -> dict[str, Any]:
    counts: dict[str, list] = defaultdict(list)
    clean_s = 0.0
    for sample, found in items:
        kind = _group(sample)[2]
        changes = [v for v in found if v["type"] == "typist_change"]
        counts["paste_burst"] += [v for v in found if v["type"] == "paste_burst"]
        counts["automation"] += [v for v in found if v["type"] == "automation"]
        if kind == "clean":
            clean_s += sample.duration_s
            counts["fa"] += changes
        elif kind == "impostor":
            counts["impostor"].append(bool(changes))
        else:
            switch, end = sample.truth[0]["start_s"], sample.truth[0]["end_s"]
            hits = [v for v in changes if v["end_s"] >= switch and v["start_s"] <= end]
            counts["early_fa"] += [v for v in changes if v["end_s"] < switch]
            counts["change"].append(bool(hits))
            if hits:
                counts["start_err"].append(hits[0]["start_s"] - switch)
    n_change = len(counts["change"])
    return {
        "sessions": len(items), "clean_hours": round(clean_s / 3600, 2),
        "changes": n_change,
        "change_found": _share(counts["change"]),
        "start_30s": sum(abs(e) <= 30 for e in counts["start_err"]) / n_change if n_change else None,
        "start_err_median_s": statistics.median(counts["start_err"]) if counts["start_err"] else None,
        "impostors": len(counts["impostor"]), "impostor_found": _share(counts["impostor"]),
        "fa": len(counts["fa"]), "fa_per_10h": 36000 * len(counts["fa"]) / clean_s if clean_s else None,
        "early_fa": len(counts["early_fa"]),
        "paste_burst": len(counts["paste_burst"]), "automation": len(counts["automation"]),
    }


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    try:
        sample_set, _ = realsets.load_set("keystrokes", args.real_cache, force=args.force)
    except realsets.RealSetUnavailable as exc:
        print(f"keystrokes: real set unavailable: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-real-keys-") as work:
        pairs = [(s, _run(s, options, Path(work))) for s in sample_set]
    records = score(pairs)
    for record in records:
        emit(record, sys.stdout)
    if not args.json:
        headers = ["source", "half", "changes", "found", "start<=30s", "start err", "impostors", "found",
                   "clean h", "FA/10h", "early FA", "paste", "autom."]
        rows = [[r["source"], r["half"], str(r["changes"]), fmt(r["change_found"]), fmt(r["start_30s"]),
                 fmt(r["start_err_median_s"], 1), str(r["impostors"]), fmt(r["impostor_found"]),
                 fmt(r["clean_hours"], 1), fmt(r["fa_per_10h"]), str(r["early_fa"]), str(r["paste_burst"]),
                 str(r["automation"])] for r in records]
        table(headers, rows, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
