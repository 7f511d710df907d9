"""Cutting a recording into the segments a live session sends (ml_service.sandbox.live_cut)."""

from __future__ import annotations

import json
import subprocess

import pytest

from ml_service.sandbox.live_cut import cut, cut_at_key_frames, plan
from ml_service.core.media_probe import probe


def test_plan_cuts_equal_segments_and_folds_a_sliver_into_the_last():
    assert plan(150, 60) == [(0.0, 60.0), (60.0, 120.0), (120.0, 150.0)]
    assert plan(120.5, 60) == [(0.0, 60.0), (60.0, 120.5)]
    with pytest.raises(ValueError):
        plan(0, 60)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("cut") / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=15:duration=6", "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p",
                    str(path)], check=True)
    return path


def test_media_segments_play_on_their_own_and_add_up_to_the_recording(video, tmp_path):
    files = cut(video, tmp_path, plan(6, 2.5))
    assert [f.name for f in files] == ["clip-seg000.mp4", "clip-seg001.mp4", "clip-seg002.mp4"]
    durations = [probe(f)["duration_s"] for f in files]
    assert durations == pytest.approx([2.5, 2.5, 1.0], abs=0.07)


def test_stream_copy_cuts_at_key_frames_and_says_where(video, tmp_path):
    cuts, files = cut_at_key_frames(video, tmp_path, 2.0)
    assert len(files) == 3 and cuts[0][0] == 0.0 and cuts[-1][1] == pytest.approx(6.0, abs=0.2)  # within a few frames
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))


def test_a_keystroke_log_is_split_by_time_each_part_from_zero(tmp_path):
    log = tmp_path / "keys.json"
    events = [{"t": t, "type": kind, "key": "k"} for t, kind in ((100, "down"), (150, "up"), (2100, "down"),
                                                                 (2200, "up"), (3999, "down"), (4000, "up"))]
    log.write_text(json.dumps({"format": "keystrokes/1", "time_unit": "ms", "duration": 4000, "events": events}))
    first, second = cut(log, tmp_path / "out", plan(4.0, 2.0))
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert (a["duration"], [e["t"] for e in a["events"]]) == (2000, [100, 150])
    assert (b["duration"], [e["t"] for e in b["events"]]) == (2000, [100, 200, 1999, 2000])
