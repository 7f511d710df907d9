"""The audio handler on the real development set, per condition, with diarization figures.

    python bench/audio_real.py [--cache DIR] [--force] [--json] [--dump FILE] [--only TEXT]

Builds (or reuses) the real set (:mod:`ml_service.samples.realsets.audio`), runs the handler on every
sample as the worker would, and prints JSON lines on stdout and a table on stderr:

- ``"record": "check"``: per condition (``same-mic``, ``other-mic``, ``far-field``,
  ``noise-suppressed``, ``all``: the sessions made from placed utterances) and per chain of the
  real AMI meetings (``ami as-recorded``, ``ami laptop``, ..., ``ami all``) and check:
  precision, recall, truth and predicted events, and false alarms per hour of the candidate
  alone (``alone`` samples: no violation in truth);
- ``"record": "voice_mismatch"``: the same check apart for sessions with an enrolment clip
  and without one (the dominant voice taken as the candidate's);
- ``"record": "second_voice"``: per condition, ``multiple_speakers`` recall over the truth
  episodes in which a second voice speaks at least 3 s (from the RTTM);
- ``"record": "diarization"``: per condition, DER-style figures over the samples with more
  than one person (missed speech, false alarm, speaker confusion, DER without collar, frames of
  10 ms, overlap counted per speaker), how often the number of voices found was right, and
  ``two_voices_blocks``: precision and recall over 2 s blocks of "two or more people speak in
  this block" (RTTM against the handler's turns), a finer view of ``multiple_speakers``;
- ``"record": "identity"``: per condition, the enrolment similarity of the candidate's voice
  and of foreign voices, and the margin between them, as the handler reported them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit, fmt, table

from handlers.audio import analysis, vad
from handlers.audio.decode import decode
from handlers.audio.options import Options
from ml_service import samples
from ml_service.samples import evaluation, realsets
from ml_service.core.handlers import load_handler, run_handler
from ml_service.samples.realsets.audio import CONDITIONS, condition_of

_STEP = 0.01
_BLOCK_S = 2.0  # blocks of the "two or more voices" figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/audio_real.py", description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dump", type=Path, default=None, help="write every sample's violations and media here")
    parser.add_argument("--only", default=None, help="only the samples whose name contains this (e.g. -ami-)")
    args = parser.parse_args(argv)
    built, _ = realsets.load_set("audio", args.cache, force=args.force)
    built = [s for s in built if args.only is None or args.only in s.name]
    folder = Path(built[0].recordings[0]).parent
    handler = load_handler("handlers.audio.audio.process")
    runs = []
    for n, sample in enumerate(built, 1):
        result = _run(handler, sample, n)
        runs.append((sample, result["violations"], result["media"]))
        if not args.json:
            print(f"[{n}/{len(built)}] {sample.name}: {len(result['violations'])} violation(s)", file=sys.stderr)
    if args.dump:
        args.dump.write_text(json.dumps([{"name": s.name, "truth": s.truth, "violations": v, "media": m}
                                         for s, v, m in runs], indent=1, default=str))
    records = (_check_records(runs) + _second_voice_records(runs, folder) + _diarization_records(runs, folder)
               + _identity_records(runs))
    for record in records:
        emit(record, sys.stdout)
    if not args.json:
        _table(records)
    return 0


def _run(handler, sample: samples.Sample, number: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-audio-real-") as work:
        result, _ = run_handler(handler, samples.handler_input(sample, Path(work), number))
    return result


def _groups(runs):
    """Per condition and all of the first-round kinds; then the real AMI meetings, per chain and all."""
    by = defaultdict(list)
    for run in runs:
        by[_group_of(run[0].name)].append(run)
    placed = [r for r in runs if "-ami-" not in r[0].name]
    ami = [r for r in runs if "-ami-" in r[0].name]
    chains = sorted(k for k in by if k.startswith("ami "))
    return ([(c, by[c]) for c in CONDITIONS if by[c]] + [("all", placed)] + [(k, by[k]) for k in chains]
            + ([("ami all", ami)] if ami else []))


def _group_of(name: str) -> str:
    """``ami <chain>`` for a real AMI meeting (``real-ami-<condition>-<meeting>-<chain>``), else the condition."""
    if "-ami-" not in name:
        return condition_of(name)
    rest = name.split("-ami-", 1)[1].removeprefix(condition_of(name) + "-")
    return "ami " + rest.split("-", 1)[1]


def _check_records(runs) -> list[dict]:
    out = []
    for cond, group in _groups(runs):
        out += _mismatch_by_reference(cond, group)
        metrics = evaluation.evaluate([(s, v) for s, v, _ in group])
        alone = [(s, v) for s, v, _ in group if "-alone-" in s.name]
        hours = sum(s.duration_s for s, _ in alone) / 3600
        for check, m in metrics.items():
            alarms = sum(1 for _, v in alone for e in v if e["type"] == check)
            out.append({"record": "check", "condition": cond, "check": check, "precision": m["precision"],
                        "recall": m["recall"], "n_truth": m["n_truth"], "n_pred": m["n_pred"],
                        "alone_hours": round(hours, 3),
                        "false_alarms_per_alone_hour": round(alarms / hours, 2) if hours else None})
    return out


def _mismatch_by_reference(cond: str, group) -> list[dict]:
    """``voice_mismatch`` precision and recall apart for sessions with and without an enrolment."""
    out = []
    for reference, part in (("enrolment", [r for r in group if r[0].reference_voice]),
                            ("dominant_voice", [r for r in group if not r[0].reference_voice])):
        m = evaluation.evaluate([(s, v) for s, v, _ in part]).get("voice_mismatch")
        if m and (m["n_truth"] or m["n_pred"]):
            out.append({"record": "voice_mismatch", "condition": cond, "reference": reference,
                        "precision": m["precision"], "recall": m["recall"], "matched": m["n_matched"],
                        "n_pred": m["n_pred"], "n_truth": m["n_truth"]})
    return out


def _second_voice_records(runs, folder: Path) -> list[dict]:
    """``multiple_speakers`` recall over truth episodes where a second voice speaks >= 3 s (RTTM)."""
    out = []
    for cond, group in _groups(runs):
        found = total = 0
        for sample, violations, _ in group:
            truth = [e for e in sample.truth if e["type"] == "multiple_speakers"]
            if not truth:
                continue
            turns = _rttm(folder / f"{sample.name}.rttm")
            got = {t for t, _ in evaluation.match_events(truth, [v for v in violations if v["type"] == "multiple_speakers"])}
            for i, e in enumerate(truth):
                inside = sorted((sum(max(0.0, min(b, e["end_s"]) - max(a, e["start_s"])) for a, b in spans)
                                 for spans in turns.values()), reverse=True)
                if len(inside) > 1 and inside[1] >= 3.0:
                    total += 1
                    found += i in got
        if total:
            out.append({"record": "second_voice", "condition": cond, "episodes": total, "found": found,
                        "recall": round(found / total, 3)})
    return out


def _rttm(path: Path) -> dict[str, list[tuple[float, float]]]:
    turns: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        f = line.split()
        turns[f[7]].append((float(f[3]), float(f[3]) + float(f[4])))
    return turns


def _hypothesis(sample: samples.Sample) -> dict[str, list[tuple[float, float]]]:
    """The handler's own turns, by the same steps as :func:`handlers.audio.analysis.analyse`."""
    opts = Options.from_mapping(sample.options)
    audio = decode(sample.recordings[0])
    levels, probs = vad.scan(audio, opts.vad_gate_db)
    d = analysis.diarization(audio, levels, probs, vad.speech_segments(probs, opts.speech_threshold), opts)
    turns: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t in d.turns:
        turns[f"S{t.speaker + 1}"].append((t.start_s, t.end_s))
    return turns


def _matrix(turns: dict[str, list[tuple[float, float]]], names: list[str], n: int) -> np.ndarray:
    m = np.zeros((len(names), n), bool)
    for i, name in enumerate(names):
        for a, b in turns.get(name, []):
            m[i, int(a / _STEP) : int(b / _STEP)] = True
    return m


def der(ref: dict, hyp: dict, seconds: float) -> dict[str, float]:
    """Missed, false alarm and confusion (seconds) and DER, with the best speaker mapping."""
    n = int(seconds / _STEP) + 1
    rn, hn = sorted(ref), sorted(hyp)
    r, h = _matrix(ref, rn, n), _matrix(hyp, hn, n)
    overlap = (r[:, None, :] & h[None, :, :]).sum(axis=2) if len(hn) else np.zeros((len(rn), 0))
    best = 0
    for perm in itertools.permutations(range(len(hn)), min(len(rn), len(hn))):
        best = max(best, sum(overlap[i, j] for i, j in zip(range(len(rn)), perm)))
    n_ref, n_hyp = r.sum(axis=0), h.sum(axis=0)
    both = _two_voices(r, n), _two_voices(h, n)
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = np.minimum(n_ref, n_hyp).sum() - best
    total = n_ref.sum()
    return {"ref_s": total * _STEP, "missed_s": missed * _STEP, "false_alarm_s": false * _STEP,
            "confusion_s": confusion * _STEP, "der": (missed + false + confusion) / max(total, 1),
            "ref_speakers": len(rn), "hyp_speakers": len(hn),
            "multi_tp": int((both[0] & both[1]).sum()), "multi_fp": int((~both[0] & both[1]).sum()),
            "multi_fn": int((both[0] & ~both[1]).sum())}


def _two_voices(m: np.ndarray, n: int) -> np.ndarray:
    """Per block of ``_BLOCK_S``: do two or more speakers of ``m`` speak in it?"""
    per = int(_BLOCK_S / _STEP)
    blocks = -(-n // per)
    padded = np.zeros((len(m), blocks * per), bool)
    padded[:, : m.shape[1]] = m
    return padded.reshape(len(m), blocks, per).any(axis=2).sum(axis=0) >= 2


def _diarization_records(runs, folder: Path) -> list[dict]:
    out = []
    scored = {s.name: der(_rttm(folder / f"{s.name}.rttm"), _hypothesis(s), s.duration_s)
              for s, _, _ in runs if any(k in s.name for k in ("-second-", "-meeting-", "-ami-"))}
    for cond, group in _groups(runs):
        rows = [scored[s.name] for s, _, _ in group if s.name in scored]
        if not rows:
            continue
        total = sum(r["ref_s"] for r in rows)
        tp, fp, fn = (sum(r[k] for r in rows) for k in ("multi_tp", "multi_fp", "multi_fn"))
        sums = {k: sum(r[k] for r in rows) for k in ("missed_s", "false_alarm_s", "confusion_s")}
        out.append({"record": "diarization", "condition": cond, "samples": len(rows), "ref_speech_s": round(total, 1),
                    **{k.replace("_s", ""): round(v / total, 3) for k, v in sums.items()},
                    "der": round(sum(sums.values()) / total, 3),
                    "count_right": sum(r["ref_speakers"] == r["hyp_speakers"] for r in rows),
                    "count_under": sum(r["ref_speakers"] > r["hyp_speakers"] for r in rows),
                    "voices_found": [f"{r['hyp_speakers']}/{r['ref_speakers']}" for r in rows],
                    "two_voices_blocks": {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
                                          "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                                          "blocks": tp + fn}})
    return out


def _identity_records(runs) -> list[dict]:
    out = []
    for cond, group in _groups(runs):
        own, foreign, margins = [], [], []
        for sample, _, media in group:
            ident = media.get("voice_identity") or {}
            sims = ident.get("similarity") or []
            if not sample.reference_voice or not sims or "-impostor-" in sample.name:
                continue
            own.append(max(sims))
            foreign += sorted(sims)[:-1]
            if ident.get("margin") is not None:
                margins.append(ident["margin"])
        if own:
            out.append({"record": "identity", "condition": cond, "sessions": len(own),
                        "candidate_min": round(min(own), 3), "candidate_median": round(float(np.median(own)), 3),
                        "other_voices_max": round(max(foreign), 3) if foreign else None,
                        "margin_min": round(min(margins), 3) if margins else None})
    return out


def _table(records: list[dict]) -> None:
    rows = [[r["condition"], r["check"], fmt(r["precision"]), fmt(r["recall"]), str(r["n_truth"]), str(r["n_pred"]),
             fmt(r["false_alarms_per_alone_hour"], 1)] for r in records if r["record"] == "check"]
    rows += [[r["condition"], f"voice_mismatch ({r['reference']})", fmt(r["precision"]), fmt(r["recall"]),
              str(r["n_truth"]), str(r["n_pred"]), "-"] for r in records if r["record"] == "voice_mismatch"]
    table(["condition", "check", "precision", "recall", "truth", "pred", "FA/alone h"], rows, sys.stderr)
    for r in records:
        if r["record"] not in ("check", "voice_mismatch"):
            print(r, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
