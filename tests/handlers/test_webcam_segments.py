"""handlers.webcam.segments: a recording cut into segments analysed in parallel processes
gives the violations of one pass (never skipped; clips made by ml_service.samples.webcam)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handlers.webcam import segments
from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.decode import frames, video_info
from handlers.webcam.options import Options
from handlers.webcam.webcam import process
from ml_service.samples.evaluation import interval_iou
from ml_service.core.errors import HandlerLoadError
from ml_service.core.isolation import IsolatedHandler, ProcessTree
from ml_service.core.results import validate_result
from ml_service.samples import webcam as clips

ROOT = Path(__file__).resolve().parents[2]
# events straddle the cut at 21 s (away), sit just after it (talk) and well before it (second)
EVENTS = [("second", 4, 10, "lfw0", 40), ("away", 17, 25), ("talk", 28, 35)]
TRUTH = {"multiple_faces": (4, 10), "face_absent": (17, 25), "talking": (28, 35)}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clips.make_clip(tmp_path_factory.mktemp("segments") / "cut.mp4", 42, EVENTS, who="astronaut", seed=5)[0]


def test_plan_cuts_long_recordings_into_one_segment_per_worker():
    assert segments.plan(3600, 2) == [(0.0, 1800.0), (1800.0, None)]
    assert segments.plan(3600, 3) == [(0.0, 1200.0), (1200.0, 2400.0), (2400.0, None)]
    assert segments.plan(400, 4, min_segment_s=150) == [(0.0, 200.0), (200.0, None)]
    for duration, workers in [(299, 2), (3600, 1), (None, 2), (0.0, 2)]:
        assert segments.plan(duration, workers) == [(0.0, None)]


def test_worker_count_and_shortest_segment_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ML_WEBCAM_PROCESSES", "3")
    monkeypatch.setenv("ML_WEBCAM_MIN_SEGMENT_S", "12.5")
    assert segments.processes() == 3 and segments.min_segment_s() == 12.5
    monkeypatch.delenv("ML_WEBCAM_PROCESSES")
    monkeypatch.delenv("ML_WEBCAM_MIN_SEGMENT_S")
    assert segments.processes() == len(os.sched_getaffinity(0))
    assert segments.min_segment_s() == segments.MIN_SEGMENT_S
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("ML_WEBCAM_PROCESSES", bad)
        with pytest.raises(ValueError, match="ML_WEBCAM_PROCESSES must be a positive int"):
            segments.processes()


def test_a_bad_setting_is_a_load_error_at_start(monkeypatch):
    monkeypatch.setenv("ML_WEBCAM_PROCESSES", "lots")
    handler = IsolatedHandler("handlers.webcam.webcam.process")
    with pytest.raises(HandlerLoadError, match="ML_WEBCAM_PROCESSES must be a positive int, got 'lots'"):
        handler.start()
    handler.stop()


def _obs(t: float) -> Obs:
    return Obs(t, False, False, [])


def test_join_takes_each_part_after_the_previous_parts_last_sample():
    first = Observations(obs=[_obs(0), _obs(2), _obs(4)], light=[(0, False), (2, False), (4, True), (5, True)],
                         embeddings=[(2, np.zeros(128))], frames_received=4, end_s=5, scans=2)
    # the second part started 4 s before its cut at 6 s
    second = Observations(obs=[_obs(2), _obs(3.5), _obs(4), _obs(4.4), _obs(6), _obs(8)],
                          light=[(2, False), (4, True), (6, False), (8, False)],
                          embeddings=[(4, np.ones(128)), (6, np.ones(128))], frames_received=4, end_s=9, scans=1)
    joined = segments.join([first, second], [6.0])
    assert [o.t for o in joined.obs] == [0, 2, 4, 4.4, 6, 8]
    assert joined.light == [(0, False), (2, False), (4, True), (5, True), (6, False), (8, False)]
    assert [t for t, _ in joined.embeddings] == [2, 6]
    assert (joined.frames_received, joined.scans, joined.end_s, joined.segments) == (8, 3, 9, 2)


def test_a_span_of_the_stream_keeps_the_files_timestamps(clip):
    info = video_info(clip)
    whole = [f.t for f in frames(clip, info, 5.0)]
    part = [f.t for f in frames(clip, info, 5.0, start_s=12.0, end_s=20.0)]
    assert part and 12.0 <= part[0] < 12.3 and part[-1] < 20.0
    inside = [t for t in whole if 12.0 <= t < 20.0]
    assert len(part) == pytest.approx(len(inside), abs=1)
    assert all(min(abs(t - w) for w in whole) < 0.07 for t in part)


def _analyse(clip: Path, monkeypatch, workers: int) -> dict:
    monkeypatch.setenv("ML_WEBCAM_PROCESSES", str(workers))
    monkeypatch.setenv("ML_WEBCAM_MIN_SEGMENT_S", "20")
    submission = {"submission_id": 1, "session_id": "s", "modality": "webcam", "options": {},
                  "recordings": [{"name": clip.name, "path": str(clip), "size": clip.stat().st_size}],
                  "reference_photo": None, "reference_voice": None, "work_dir": str(clip.parent)}
    result, _ = process(submission)
    assert validate_result(result) == []
    return result


def test_two_segments_find_what_one_pass_finds(clip, monkeypatch):
    one, two = _analyse(clip, monkeypatch, 1), _analyse(clip, monkeypatch, 2)
    assert one["media"]["files"][0]["segments"] == 1 and two["media"]["files"][0]["segments"] == 2
    for result in (one, two):
        kinds = sorted(v["type"] for v in result["violations"])
        assert kinds == sorted(TRUTH), result["violations"]
        for v in result["violations"]:
            start, end = TRUTH[v["type"]]
            assert interval_iou(v, {"start_s": start, "end_s": end}) >= 0.75, (v, TRUTH[v["type"]])
    for a in one["violations"]:
        b = next(v for v in two["violations"] if v["type"] == a["type"])
        assert interval_iou(a, b) >= 0.85, (a, b)


def test_a_recording_shorter_than_stated_leaves_later_segments_empty(clip, caplog):
    info = dataclasses.replace(video_info(clip), duration_s=200.0)  # the container lies: 42 s of video
    data = segments.analyse(clip, info, Options(), workers=2, shortest_s=5)
    assert data.segments == 2 and data.obs and data.obs[-1].t < 42 and data.end_s == 200.0
    assert "ends earlier than stated" in caplog.text


def test_segments_run_inside_the_workers_isolated_handler_process(clip, monkeypatch):
    monkeypatch.setenv("ML_WEBCAM_PROCESSES", "2")
    monkeypatch.setenv("ML_WEBCAM_MIN_SEGMENT_S", "20")  # the child inherits the environment
    handler = IsolatedHandler("handlers.webcam.webcam.process", timeout_s=300)
    try:
        result, _ = handler({"submission_id": 1, "session_id": "s", "modality": "webcam", "options": {},
                             "recordings": [{"name": clip.name, "path": str(clip), "size": clip.stat().st_size}],
                             "reference_photo": None, "reference_voice": None, "work_dir": str(clip.parent)})
    finally:
        handler.stop()
    assert result["error_code"] == 0 and result["media"]["files"][0]["segments"] == 2
    assert sorted(v["type"] for v in result["violations"]) == sorted(TRUTH)


_RUN_SEGMENTED = """
import sys
from pathlib import Path
from handlers.webcam import segments
from handlers.webcam.decode import video_info
from handlers.webcam.options import Options
path = Path(sys.argv[1])
segments.analyse(path, video_info(path), Options(), workers=2, shortest_s=5)
"""


def test_segment_processes_die_with_the_handler_process(clip):
    proc = subprocess.Popen([sys.executable, "-c", _RUN_SEGMENTED, str(clip)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree = ProcessTree(proc.pid, refresh_s=0)
    try:
        deadline = time.monotonic() + 60
        helpers: list[int] = []
        while not helpers and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            helpers = [pid for pid in tree.members()[1:] if _is_python(pid)]
        assert helpers, "no segment process was started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in helpers if _alive(pid)] == [], [_cmdline(pid) for pid in helpers]
    finally:
        if proc.poll() is None:
            proc.kill()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_python(pid: int) -> bool:
    return b"python" in _cmdline(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"
