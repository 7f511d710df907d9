"""Live-session latency: a recorded hour played into the sandbox as one-minute segments.

    python bench/live_latency.py [--modality webcam] [--minutes 60] [--segment-s 60] [--speed 6]
                                 [--data DIR] [--seed N] [--no-baseline] [--flavour F] [--json]

The hour is ``ml_service.samples.<m>.make_long`` (reused as bench/speed.py reuses it), cut into
segments (``ml_service.sandbox.live_cut``: media by stream copy at the key frames after each minute,
a keystroke log by time; kept beside it). The sandbox and one worker process
(``python -m ml_service run``, as the demo starts it) serve the modality's queue; the platform
side (:class:`ml_service.sandbox.live_platform.LiveSession`) uploads segment ``k`` when the recording
reaches its end, ``--speed`` times faster than real time, with the carry of the answers so far.

Measured: from a segment's upload to each of its alerts (``violation_detected``, as the
platform stored it), and to its answer; from the last segment's upload to the session's final
answer. Baseline, in the same run: the whole hour submitted at once after the exam, and the
time to its answer. The merged result is compared with that one pass (same events, edges
within 1 s). The 1-minute load average is sampled throughout (the machine is shared).

stdout: JSON lines (``"record": "segment"`` per segment, ``"record": "summary"``). stderr:
progress and a table (``--json``: neither).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from _common import DEFAULT_DATA, emit, fmt, table
from speed import long_recording

from ml_service.sandbox.demo import _add_flavour_option, _start_worker, _stop_workers
from ml_service.sandbox.live_cut import cut, cut_at_key_frames, plan
from ml_service.local.live_local import differences
from ml_service.sandbox.live_platform import LiveSession
from ml_service.sandbox import Sandbox, SandboxConfig

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/live_latency.py", description=__doc__.split("\n")[0])
    parser.add_argument("--modality", default="webcam", choices=["webcam", "screencast", "audio", "keystrokes"])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the session")
    parser.add_argument("--segment-s", type=float, default=60.0, help="length of a segment")
    parser.add_argument("--speed", type=float, default=6.0, help="times faster than real time (1 = real time)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="recording folder (default: bench-data/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-pass submission of the whole hour")
    parser.add_argument("--json", action="store_true", help="JSON lines only: no progress, no table")
    _add_flavour_option(parser)
    return parser


def segments_of(recording: Path, folder: Path, segment_s: float) -> tuple[list[tuple[float, float]], list[Path]]:
    """The cuts and their files, made once per recording and segment length."""
    stamp = folder / "segments.stamp.json"
    want = {"recording": str(recording), "mtime": recording.stat().st_mtime, "segment_s": segment_s}
    if stamp.exists() and json.loads(stamp.read_text())["want"] == want:
        return [tuple(c) for c in json.loads(stamp.read_text())["cuts"]], sorted(folder.glob("*-seg*"))
    if recording.suffix == ".json":
        cuts = plan(_log_seconds(recording), segment_s)
        files = cut(recording, folder, cuts)
    else:  # stream copy at key frames: an hour re-encoded would take longer than the bench
        cuts, files = cut_at_key_frames(recording, folder, segment_s)
    stamp.write_text(json.dumps({"want": want, "cuts": cuts}))
    return cuts, files


def _log_seconds(path: Path) -> float:
    data = json.loads(path.read_text())
    scale = 0.001 if data.get("time_unit", "ms") == "ms" else 1.0
    return float(data.get("duration") or data["events"][-1]["t"]) * scale


class LoadSampler:
    """The 1-minute load average, every few seconds, in a thread."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, every_s: float) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(every_s):
                return


def play(live: LiveSession, cuts: list[tuple[float, float]], files: list[Path], speed: float,
         say: Any) -> dict[int, float]:
    """Upload each segment when the recording reaches its end (``speed`` times faster)."""
    started, uploaded = time.monotonic(), {}
    for index, ((start, end), path) in enumerate(zip(cuts, files)):
        delay = started + end / speed - time.monotonic()
        if delay > 0:
            threading.Event().wait(delay)
        uploaded[index] = time.time()
        live.submit(index, start, {path.name: path}, last=index == len(cuts) - 1)
        answered = sum(1 for i in live.answers if i < index)
        say(f"  segment {index + 1}/{len(cuts)} uploaded; {answered} earlier answered")
    return uploaded


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _epoch(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def measure(args: argparse.Namespace, say: Any, out: TextIO) -> dict[str, Any]:
    folder = args.data / args.modality / "long"
    say(f"making or reusing the {args.minutes:g}-minute {args.modality} recording in {folder} ...")
    recording = long_recording(args.modality, folder, args.minutes, args.seed)
    cuts, files = segments_of(recording, folder / f"live-{args.segment_s:g}s", args.segment_s)
    say(f"{len(cuts)} segments of {args.segment_s:g} s; playing at {args.speed:g}x real time")
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp, LoadSampler() as load:
        config = SandboxConfig(state_dir=Path(tmp) / "state", xqueue_port=0, platform_port=0,
                               users={"ml_service": "ml_password"}, queues=[args.modality],
                               flavour=args.flavour)
        with Sandbox(config) as sandbox:
            for sub in ("env", "logs"):
                (Path(tmp) / sub).mkdir()
            workers = [_start_worker(sandbox, Path(tmp), args.modality)]
            try:
                live = LiveSession(sandbox, args.modality, "bench-live")
                uploaded = play(live, cuts, files, args.speed, say)
                final = live.wait(len(cuts) - 1, timeout_s=1800)
                whole_s, whole = (None, None) if args.no_baseline else _one_pass(sandbox, args.modality, recording, say)
                alerts = sandbox.alerts()
            finally:
                _stop_workers(workers)
    return _summary(args, cuts, live, uploaded, final, alerts, whole_s, whole, load.samples, out)


def _one_pass(sandbox: Sandbox, modality: str, recording: Path, say: Any) -> tuple[float, dict[str, Any]]:
    """The baseline: the whole recording submitted after the exam; seconds to its answer."""
    say("baseline: the whole recording submitted at once ...")
    started = time.time()
    sandbox.submit_session(modality, {"session_id": "bench-one-pass", "modality": modality,
                                      "recordings": [recording.name]}, {recording.name: recording})
    while True:
        rows = [r for r in sandbox.results() if r["session_id"] == "bench-one-pass"]
        if rows:
            return _epoch(rows[0]["received"]) - started, rows[0]["body"]["result"]
        threading.Event().wait(0.5)


def _summary(args, cuts, live, uploaded, final, alerts, whole_s, whole, load, out) -> dict[str, Any]:
    alert_lat = [_epoch(a["received"]) - uploaded[a["evidence"]["segment_index"]] for a in alerts]
    answer_lat = {i: live.received[i] - uploaded[i] for i in uploaded if i in live.received}
    for index in sorted(answer_lat):
        emit({"record": "segment", "index": index, "answer_s": round(answer_lat[index], 3),
              "alerts_s": [round(_epoch(a["received"]) - uploaded[index], 3) for a in alerts
                           if a["evidence"]["segment_index"] == index]}, out)
    last = len(cuts) - 1
    result = final["result"]
    summary = {
        "record": "summary", "modality": args.modality, "flavour": args.flavour, "minutes": args.minutes, "segment_s": args.segment_s,
        "speed": args.speed, "segments": len(cuts), "alerts": len(alerts),
        "alert_p50_s": percentile(alert_lat, 50), "alert_p95_s": percentile(alert_lat, 95),
        "alert_max_s": max(alert_lat, default=None),
        "answer_p50_s": percentile(list(answer_lat.values()), 50),
        "answer_p95_s": percentile(list(answer_lat.values()), 95),
        "final_after_last_s": live.received[last] - uploaded[last],
        "one_pass_s": whole_s, "violations": len(result["violations"]), "gaps": len(result["live"]["gaps"]),
        **_alerted_once(alerts, result),
        "merged_vs_one_pass": None if whole is None else (differences(result["violations"], whole["violations"]) or "same"),
        "load_1min": {"min": min(load), "mean": round(sum(load) / len(load), 1), "max": max(load)} if load else None,
        "cores": os.cpu_count(),
    }
    emit(summary, out)
    return summary


def _alerted_once(alerts: list[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
    """Each alert received once (``copies``), and each violation of the final result alerted."""
    sent = {a["alert_id"] for a in alerts}
    final = set(result["live"].get("alert_ids") or [])
    return {"alerts_received_twice": sum(1 for a in alerts if a.get("copies", 1) > 1),
            "final_violations_not_alerted": len(final - sent), "alerts_not_in_final": len(sent - final)}


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    say = (lambda text: None) if args.json else (lambda text: print(text, file=err, flush=True))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the workers are stopped too
    s = measure(args, say, out)
    if not args.json:
        rows = [["segment upload -> its alerts", f"p50 {fmt(s['alert_p50_s'])} s, p95 {fmt(s['alert_p95_s'])} s, "
                 f"max {fmt(s['alert_max_s'])} s ({s['alerts']} alerts)"],
                ["segment upload -> its answer", f"p50 {fmt(s['answer_p50_s'])} s, p95 {fmt(s['answer_p95_s'])} s"],
                ["last segment upload -> final answer", f"{fmt(s['final_after_last_s'])} s"],
                ["baseline: whole hour uploaded at the end -> answer", f"{fmt(s['one_pass_s'])} s"],
                ["merged result vs one pass", str(s["merged_vs_one_pass"])],
                ["alerts received twice / final violations not alerted / alerts not in the final",
                 f"{s['alerts_received_twice']} / {s['final_violations_not_alerted']} / {s['alerts_not_in_final']}"],
                ["1-min load average (min / mean / max)", str(s["load_1min"]) + f" on {s['cores']} cores"]]
        table(["measure", f"{s['modality']}, {s['minutes']:g} min in {s['segments']} segments, {s['speed']:g}x"],
              rows, err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
