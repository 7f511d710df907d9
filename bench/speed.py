"""Speed benchmark: pipeline vs decode-only vs naive, on long recordings, one process each.

    python bench/speed.py [--modality M ...] [--minutes 10 60] [--data DIR] [--budget-s 60] [--json]

For every ``bench/speed_<m>.py`` and each length, ``ml_service.samples.<m>.make_long`` makes
one recording in ``DIR/<m>/long/`` (reused while its stamp records the same length, seed and
generator version). Then ``decode_only``, ``pipeline`` and ``naive`` each run in a fresh
``python bench/speed.py --child ...`` process, so no run inherits another's caches or memory.

Figures per run: ``wall_s`` (the function call, timed in the child: interpreter start-up and
the module's imports excluded; ``process_wall_s`` includes them), ``cpu_s`` (user + system,
child and its waited-for subprocesses), ``peak_rss_mb`` (the largest sum of the resident sizes
of the child and its descendants, sampled every 0.2 s), ``max_process_rss_mb`` (``ru_maxrss``
from ``wait4``: the largest single process; it includes what the child inherited at fork),
``realtime_factor`` = media seconds / wall (higher is faster;
media seconds = minutes x 60). ``naive`` may stop after ``--budget-s`` and extrapolate; its
figures come from its ``seconds_per_media_second`` and carry ``extrapolated``.

stdout: JSON lines, ``"record": "run"`` per (modality, minutes, function) and
``"record": "ratios"`` per (modality, minutes) with ``pipeline_over_decode_only`` and
``naive_over_pipeline``. stderr: progress and a table (``--json``: neither). Exit 0 unless the
command line is wrong (2).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from _common import DEFAULT_DATA, ROOT, add_overlays, emit, fmt, speed_module_files, table

from ml_service import samples
from ml_service.core.isolation import ProcessTree

__all__ = ["main"]

FUNCTIONS = ("decode_only", "pipeline", "naive")
Record = dict[str, Any]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/speed.py", description=__doc__.split("\n")[0])
    parser.add_argument("--modality", action="append", default=[], metavar="M", help="only this one (repeatable)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0], help="recording lengths")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="recording folder (default: bench-data/)")
    parser.add_argument("--budget-s", type=float, default=60.0, help="time the naive baseline may take")
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="kill a run after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="JSON lines only: no progress, no table")
    parser.add_argument("--modules-path", action="append", type=Path, default=[], metavar="ROOT",
                        help="a folder laid out like the repo with more modalities (tests)")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    args.modules_path = [root.absolute() for root in args.modules_path]  # the children run in ROOT
    add_overlays(args.modules_path)
    modules = speed_module_files(args.modules_path)
    unknown = sorted(set(args.modality) - set(modules))
    if unknown:
        parser.error(f"no bench/speed_<m>.py for {', '.join(unknown)}; available: {', '.join(modules) or 'none'}")
    say = (lambda text: None) if args.json else (lambda text: print(text, file=err, flush=True))
    records: list[Record] = []
    for name in args.modality or sorted(modules):
        for minutes in args.minutes:
            for record in _bench(name, modules[name], minutes, args, say):
                emit(record, out)
                records.append(record)
    if not args.json:
        _print_table(records, err)
    return 0


def _bench(name: str, module_file: Path, minutes: float, args: argparse.Namespace, say) -> list[Record]:
    base = {"modality": name, "minutes": minutes, "media_s": minutes * 60.0}
    say(f"{name} {minutes:g} min: preparing the recording ...")
    try:
        media = long_recording(name, args.data / name / "long", minutes, args.seed)
    except Exception as exc:  # noqa: BLE001 - reported; the other modalities go on
        say(f"{name} {minutes:g} min: cannot make the recording: {type(exc).__name__}: {exc}")
        return [{"record": "modality", **base, "status": "no_recording", "error": f"{type(exc).__name__}: {exc}"}]
    runs = {}
    for function in FUNCTIONS:
        say(f"{name} {minutes:g} min: {function} ...")
        runs[function] = {"record": "run", **base, "function": function,
                          **_measure(function, module_file, media, minutes * 60.0, args)}
        say(f"{name} {minutes:g} min: {function}: {_brief(runs[function])}")
    return [*runs.values(), {"record": "ratios", **base, **_ratios(runs)}]


def long_recording(name: str, folder: Path, minutes: float, seed: int, clean: bool = False) -> Path:
    """``make_long``'s recording of ``minutes`` (``clean``: its clean variant, where the
    generator has one), reused while its stamp still matches."""
    module = samples.load_modality(name)
    stamp_file = folder / f"long-{'clean-' if clean else ''}{minutes:g}min.stamp.json"
    stamp = {"minutes": minutes, "seed": seed, "generator": samples.generator_version(module), "clean": clean}
    try:
        saved = json.loads(stamp_file.read_text())
        path = folder / saved["path"]
        if {k: saved.get(k) for k in stamp} == stamp and path.exists():
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    extra = {"clean": True} if clean else {}
    path = Path(module.make_long(folder, minutes, seed=seed, **extra)).absolute()
    stamp_file.write_text(json.dumps({**stamp, "path": os.path.relpath(path, folder.absolute())}) + "\n")
    return path


def _measure(function: str, module_file: Path, media: Path, media_s: float,
             args: argparse.Namespace) -> Record:
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        result_file, log_file = Path(tmp) / "result.json", Path(tmp) / "child.log"
        cmd = [sys.executable, str(Path(__file__).absolute()), "--child", function, str(module_file),
               str(media), str(args.budget_s), str(result_file), *map(str, args.modules_path)]
        with log_file.open("wb") as log:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            sampler = _TreeMemory(proc.pid)
            code, usage = _wait(proc, args.timeout_s)
            process_wall = time.perf_counter() - started
            tree_peak = sampler.stop()
        figures = {"process_wall_s": process_wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "peak_rss_mb": tree_peak, "max_process_rss_mb": usage.ru_maxrss / 1024.0}
        if code == 0 and result_file.exists():
            return {"ok": True, **_figures(function, json.loads(result_file.read_text()), media_s), **figures}
        tail = log_file.read_text(errors="replace").strip().splitlines()[-3:]
        why = "timed out" if code is None else f"exit status {code}"
        return {"ok": False, "error": f"{why}: {' | '.join(tail)}", **figures}


def _wait(proc: subprocess.Popen, timeout_s: float) -> tuple[int | None, Any]:
    """Wait for the child with ``wait4`` (its own rusage); kill it after ``timeout_s``."""
    timed_out = False
    with _pidfd(proc.pid) as fd:
        if fd is not None and not select.select([fd], [], [], timeout_s)[0]:
            proc.kill()
            timed_out = True
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (None if timed_out else proc.returncode), usage


class _TreeMemory:
    """Peak summed RSS of a process and its descendants (segment workers, ffmpeg), sampled
    every ``period_s`` on a thread. Shared pages count once per process: an upper bound."""

    def __init__(self, pid: int, period_s: float = 0.2) -> None:
        self._tree, self._period_s = ProcessTree(pid, refresh_s=1.0), period_s
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._period_s):
            self.peak_mb = max(self.peak_mb, self._tree.rss_mb() * 1e6 / 2**20)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_mb


class _pidfd:
    def __init__(self, pid: int) -> None:
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.fd = None  # no pidfd: wait without a timeout

    def __enter__(self) -> int | None:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _figures(function: str, child: Record, media_s: float) -> Record:
    """The run's figures from what the child timed and returned."""
    wall, value = child["wall_s"], child["value"]
    figures: Record = {"wall_s": wall, "realtime_factor": media_s / wall if wall > 0 else None}
    if function == "naive":
        per_s = value.get("seconds_per_media_second")
        estimate = per_s * media_s if isinstance(per_s, (int, float)) and per_s > 0 else None
        figures.update(seconds_per_media_second=per_s, extrapolated=bool(value.get("extrapolated")),
                       estimated_wall_s=estimate, realtime_factor=media_s / estimate if estimate else None)
    return {**figures, "returned": value}


def _ratios(runs: dict[str, Record]) -> Record:
    decode, pipeline, naive = (runs[f]["wall_s"] if runs[f]["ok"] else None for f in FUNCTIONS)
    naive = runs["naive"].get("estimated_wall_s")
    return {
        "pipeline_over_decode_only": pipeline / decode if pipeline and decode else None,
        "naive_over_pipeline": naive / pipeline if naive and pipeline else None,
        "naive_extrapolated": runs["naive"].get("extrapolated"),
    }


def _brief(run: Record) -> str:
    if not run["ok"]:
        return f"FAILED: {run['error']}"
    note = " (extrapolated)" if run.get("extrapolated") else ""
    return (f"{fmt(run['wall_s'])} s, {fmt(run['realtime_factor'], 1)}x realtime{note}, "
            f"{fmt(run['peak_rss_mb'], 0)} MB peak")


def _child(argv: list[str]) -> int:
    function, module_file, media, budget_s, result_file, *roots = argv
    add_overlays(map(Path, roots))
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(module_file).stem, module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    func = getattr(module, function)
    extra = (float(budget_s),) if function == "naive" else ()
    started = time.perf_counter()
    value = func(Path(media), *extra)
    wall = time.perf_counter() - started
    Path(result_file).write_text(json.dumps({"wall_s": wall, "value": _small(value)}, default=str))
    return 0


def _small(value: Any) -> Any:
    """The scalars of a returned dict (and of its ``media``), plus a violation count."""
    if not isinstance(value, dict):
        return {}
    keep = {k: v for k, v in value.items() if isinstance(v, (bool, int, float, str, type(None)))}
    if isinstance(value.get("media"), dict):
        keep["media"] = _small(value["media"])
    if isinstance(value.get("violations"), list):
        keep["n_violations"] = len(value["violations"])
    return keep


def _print_table(records: list[Record], err: TextIO) -> None:
    headers = ["modality", "min", "function", "wall s", "cpu s", "x realtime", "peak MB", "note"]
    rows = [
        [r["modality"], f"{r['minutes']:g}", r["function"], fmt(r.get("wall_s")), fmt(r["cpu_s"]),
         fmt(r.get("realtime_factor"), 1), fmt(r["peak_rss_mb"], 0),
         r.get("error", "") or ("extrapolated" if r.get("extrapolated") else "")]
        for r in records if r["record"] == "run"
    ]
    print(file=err)
    table(headers, rows, err)
    ratio_rows = [
        [r["modality"], f"{r['minutes']:g}", fmt(r["pipeline_over_decode_only"]),
         fmt(r["naive_over_pipeline"], 1) + (" (extrapolated)" if r["naive_extrapolated"] else "")]
        for r in records if r["record"] == "ratios"
    ]
    print(file=err)
    table(["modality", "min", "pipeline / decode-only", "naive / pipeline"], ratio_rows, err)
    for r in records:
        if r["record"] == "modality":
            print(f"{r['modality']} {r['minutes']:g} min: {r['status']}: {r['error']}", file=err)


if __name__ == "__main__":
    sys.exit(main())
