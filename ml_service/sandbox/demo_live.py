"""``python -m ml_service demo --live``: recordings played into the sandbox as live sessions.

Starts the sandbox and one worker per modality (as the demo does), cuts one labelled sample per
modality (or ``--recording``) into segments of ``--segment-s`` (:mod:`ml_service.sandbox.live_cut`), and
plays each as a live session (:class:`~ml_service.sandbox.live_platform.LiveSession`): segment ``k`` is
uploaded when the recording reaches its end, ``--speed`` times faster than real time, with the
carry of the answers so far. Alerts are printed as the platform receives them; at the end, each
session's merged result against the sample's truth, and one report. Exit 0 when every session's
final result has no gap and (for samples) matches its truth. ``--flavour`` picks the XQueue server
the sandbox behaves like, as in ``demo``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ml_service.sandbox.demo import _add_flavour_option, _analyzer_for, _keep_running, _start_worker, _stop_workers
from ml_service.sandbox.demo_samples import default_cache, make_demo_samples
from ml_service.sandbox.demo_table import print_table, write_report
from ml_service.sandbox.live_cut import cut, plan
from ml_service.sandbox.live_platform import LiveSession
from ml_service.core.media_probe import probe
from ml_service.samples import Sample
from ml_service.sandbox import Sandbox, SandboxConfig

__all__ = ["LIVE_SAMPLES", "main"]

LIVE_SAMPLES = {"webcam": "webcam-leaves-and-returns", "screencast": "screencast-chatgpt",
                "audio": "audio-second-voice", "keystrokes": "keystrokes-idle-1"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml_service demo --live", description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=4.0, help="times faster than real time (1 = real time)")
    parser.add_argument("--segment-s", type=float, default=10.0, help="segment length in seconds (browsers: 1-60)")
    parser.add_argument("--modality", action="append", choices=list(LIVE_SAMPLES), default=None,
                        help="only this modality's session (repeatable; default: all)")
    parser.add_argument("--recording", type=Path, default=None, help="play this recording (needs one --modality)")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="working folder (default: demo-output)")
    parser.add_argument("--samples", type=Path, default=None, help="sample cache (default: the demo's)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up waiting after this many seconds")
    parser.add_argument("--keep", action="store_true", help="leave everything running; Ctrl-C stops it")
    _add_flavour_option(parser)
    return parser


def main(argv: list[str]) -> int:
    """Play the sessions; 0 when every final result is complete (and matches its truth)."""
    args = _parser().parse_args(argv)
    modalities = args.modality or list(LIVE_SAMPLES)
    if args.recording is not None and len(modalities) != 1:
        _parser().error("--recording needs exactly one --modality")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the workers are stopped too
    out = args.out.resolve()
    shutil.rmtree(out / "state", ignore_errors=True)
    for sub in ("state", "env", "logs", "segments"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    sessions = _sessions(args, modalities, out / "segments")
    config = SandboxConfig(state_dir=out / "state", xqueue_port=0, platform_port=0,
                           users={"ml_service": "ml_password"}, queues=modalities, flavour=args.flavour)
    with Sandbox(config) as sandbox:
        print(f"sandbox: status page {sandbox.platform_url}/  (live sessions and alerts)", flush=True)
        workers = [_start_worker(sandbox, out, m) for m in modalities]
        try:
            finals = _play_all(sandbox, sessions, args)
            ok = _report(finals, sessions, out, modalities)
            if args.keep:
                _keep_running(sandbox)
        finally:
            _stop_workers(workers)
    return 0 if ok else 1


def _sessions(args: argparse.Namespace, modalities: list[str], folder: Path) -> dict[str, dict[str, Any]]:
    """Per session name: its modality, sample (None for --recording), cuts and segment files."""
    if args.recording is not None:
        chosen = {args.recording.stem: (modalities[0], None, args.recording.resolve())}
    else:
        made = make_demo_samples(args.samples or default_cache(), modalities)
        chosen = {}
        for modality in modalities:
            sample = next(s for s in made[modality] if s.name == LIVE_SAMPLES[modality])
            chosen[sample.name] = (modality, sample, sample.recordings[0])
    sessions = {}
    for name, (modality, sample, recording) in chosen.items():
        duration = sample.duration_s if sample else float(probe(recording)["duration_s"])
        cuts = plan(duration, args.segment_s)
        files = cut(recording, folder / name, cuts)
        print(f"{name}: {duration:.0f} s of {modality} in {len(cuts)} segments", flush=True)
        sessions[name] = {"modality": modality, "sample": sample, "cuts": cuts, "files": files}
    return sessions


def _play_all(sandbox: Sandbox, sessions: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Play every session in its own thread; print alerts as they come; the final answers."""
    lives = {name: _live(sandbox, name, s) for name, s in sessions.items()}
    players = [threading.Thread(target=_play, args=(lives[n], s, args.speed), daemon=True) for n, s in sessions.items()]
    started = time.monotonic()
    for player in players:
        player.start()
    shown = 0
    while time.monotonic() - started < args.timeout:
        alerts = sandbox.alerts()
        for alert in alerts[shown:]:
            print(f"[{time.monotonic() - started:6.1f} s] ALERT {alert['session_id']}: {alert['type']} at "
                  f"{alert['start_s']:.1f}-{alert['end_s']:.1f} s of the session (segment "
                  f"{alert['evidence']['segment_index']}, confidence {alert['confidence']:.2f})", flush=True)
        shown = len(alerts)
        for live in lives.values():
            live.refresh()
        if all(not p.is_alive() for p in players) and all(live.final for live in lives.values()):
            break
        threading.Event().wait(0.3)
    return {name: live.final for name, live in lives.items()}


def _live(sandbox: Sandbox, name: str, session: dict[str, Any]) -> LiveSession:
    sample: Sample | None = session["sample"]
    refs = {k: getattr(sample, k) for k in ("reference_photo", "reference_voice") if sample and getattr(sample, k)}
    return LiveSession(sandbox, session["modality"], name, options=sample.options if sample else {}, references=refs)


def _play(live: LiveSession, session: dict[str, Any], speed: float) -> None:
    started, last = time.monotonic(), len(session["cuts"]) - 1
    extra = session["sample"].recordings[1:] if session["sample"] else []
    for index, ((start, end), path) in enumerate(zip(session["cuts"], session["files"])):
        threading.Event().wait(max(0.0, started + end / speed - time.monotonic()))
        live.submit(index, start, {path.name: path, **{p.name: p for p in extra}}, last=index == last)
        print(f"  {live.session_id}: segment {index} ({start:.0f}-{end:.0f} s) uploaded", flush=True)


def _report(finals: dict[str, Any], sessions: dict[str, dict[str, Any]], out: Path, modalities: list[str]) -> bool:
    rows = [{"session_id": n, "body": f} for n, f in finals.items() if f is not None]
    complete = all(f is not None and not f["result"]["live"]["gaps"] for f in finals.values())
    for name, final in finals.items():
        gaps = final["result"]["live"]["gaps"] if final else None
        print(f"{name}: {'no final answer' if final is None else final['msg'][:200]}"
              + (f"  GAPS: {gaps}" if gaps else ""))
    expected = {n: s["sample"] for n, s in sessions.items() if s["sample"] is not None}
    matched = print_table([r for r in rows if r["session_id"] in expected], expected) if expected else 0
    if expected:
        write_report([r for r in rows if r["session_id"] in expected], expected, out / "report.html",
                     {m: _analyzer_for(m) for m in modalities})
    return complete and matched == len(expected)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
