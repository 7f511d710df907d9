"""A live session end to end: segments across two workers, one out of order, one duplicated.

The platform side is :class:`ml_service.sandbox.live_platform.LiveSession` against the sandbox over real
sockets; each worker is a real :func:`ml_service.cli.build_worker` with its own state (no shared
store), made to pull the segments it is meant to get (``run_once``). The merged result must
equal one pass over the whole recording (same events, edges within 1 s), and every violation
must be alerted exactly once.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests

from ml_service.cli import build_worker
from ml_service.core.config import Settings
from ml_service.sandbox.demo_samples import default_cache, make_demo_samples
from ml_service.sandbox.live_cut import cut, plan
from ml_service.local.live_local import differences
from ml_service.sandbox.live_platform import LiveSession
from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.core.worker import Worker

XQ_PASSWORD = "xq-live-password-9"
CLIENTS = {"live-a": "live-secret-a-123456", "live-b": "live-secret-b-654321"}
SAMPLE = "webcam-leaves-and-returns"


@pytest.fixture(scope="module")
def recording() -> Path:
    made = make_demo_samples(default_cache(), ["webcam"])
    return next(s for s in made["webcam"] if s.name == SAMPLE).recordings[0]


@pytest.fixture
def sandbox(tmp_path):
    config = SandboxConfig(state_dir=tmp_path / "sandbox", xqueue_port=0, platform_port=0,
                           users={"ml_service": XQ_PASSWORD}, queues=["webcam", "keystrokes", "debug"],
                           clients=CLIENTS)
    with Sandbox(config) as sb:
        yield sb


def _worker(sb: Sandbox, tmp_path: Path, name: str, queue: str = "webcam") -> Worker:
    env = {"XQUEUE_URL": sb.xqueue_url, "PLATFORM_URL": sb.platform_url, "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}",
           "ML_XQUEUE_NAME": queue, "ML_ANALYZER": f"handlers.{queue}.{queue}.process", "ML_CLIENT_ID": name,
           "ML_CLIENT_SECRET": CLIENTS[name], "ML_SERVICE_NAME": name, "ML_WORK_DIR": str(tmp_path),
           "ML_STATE_DIR": str(tmp_path / name), "ML_POLL_INTERVAL_S": "0.05", "ML_POLL_MAX_INTERVAL_S": "0.2",
           "ML_METRICS_PORT": "0"}
    return build_worker(Settings.from_env(env))


def _pull_one(worker: Worker) -> None:
    for _ in range(200):
        if worker.run_once():
            return
    raise AssertionError(f"{worker.queue}: nothing to pull")


@pytest.mark.timeout(900)  # seven webcam segments and one pass, on a shared machine
def test_a_session_in_segments_across_two_workers_equals_one_pass(sandbox, tmp_path, recording):
    cuts = plan(50.0, 50.0 / 6)
    files = cut(recording, tmp_path / "segments", cuts)
    assert len(files) == 6
    a, b = _worker(sandbox, tmp_path, "live-a"), _worker(sandbox, tmp_path, "live-b")
    try:
        sandbox.submit_session("webcam", {"session_id": "one-pass", "modality": "webcam",
                                          "recordings": [recording.name]}, {recording.name: recording})
        _pull_one(a)
        whole = next(r["body"]["result"] for r in sandbox.results() if r["session_id"] == "one-pass")
        assert "live" not in whole and "carry" not in whole  # a whole recording is answered as before

        live = LiveSession(sandbox, "webcam", "live-1")

        def segment(index: int, worker: Worker, count: int = 1) -> dict:
            live.submit(index, cuts[index][0], {files[index].name: files[index]}, last=index == 5)
            _pull_one(worker)
            return live.wait(index, count)["result"]

        answers = {0: segment(0, a), 1: segment(1, b), 3: segment(3, a), 2: segment(2, b)}
        duplicate = segment(2, a, count=2)
        answers |= {4: segment(4, b), 5: segment(5, a)}
    finally:
        for worker in (a, b):
            worker.cancel()

    assert answers[3]["live"]["carry"] == "partial"  # out of order: it came before segment 2
    assert answers[2]["live"]["carry"] == "used" and answers[4]["live"]["carry"] == "used"
    assert duplicate["live"]["duplicate"] and duplicate["live"]["alerted"] == []
    assert duplicate["violations"] == answers[2]["violations"]
    for index in range(5):
        assert answers[index]["live"]["final"] is False
        spans = [(v["start_s"], v["end_s"]) for v in answers[index]["violations"]]
        assert all(cuts[index][0] - 0.1 <= s <= e <= cuts[index][1] + 0.1 for s, e in spans), (index, spans)

    final = answers[5]
    assert final["live"]["final"] and final["live"]["gaps"] == [] and final["error_code"] == 0
    assert [s["index"] for s in final["media"]["segments"]] == list(range(6))
    assert abs(final["media"]["duration_s"] - whole["media"]["duration_s"]) < 0.1
    assert whole["violations"], "the sample holds violations"
    assert differences(final["violations"], whole["violations"]) == []
    assert final["live"]["cuts_without_carry"] == [3]  # analysed before 2: said so, still joined

    alerts = [e["data"] for e in sandbox.events() if e["event_type"] == "violation_detected"]
    assert len(alerts) == len(final["violations"])  # one per violation, none twice
    assert Counter(x["alert_id"] for x in alerts) == Counter(final["live"]["alert_ids"])
    for alert, violation in zip(sorted(alerts, key=lambda x: x["start_s"]), final["violations"]):
        assert alert["session_id"] == "live-1" and alert["type"] == violation["type"]
        assert alert["start_s"] == pytest.approx(violation["start_s"], abs=0.01)
    assert [x["copies"] for x in sandbox.alerts()] == [1] * len(alerts)

    by_worker = Counter((e["service"]["name"], e["data"]["result"]["live"]["index"]) for e in sandbox.events()
                        if e["event_type"] == "session_processing_end" and "live" in e["data"]["result"])
    assert by_worker == Counter({("live-a", 0): 1, ("live-b", 1): 1, ("live-a", 3): 1, ("live-b", 2): 1,
                                 ("live-a", 2): 1, ("live-b", 4): 1, ("live-a", 5): 1})

    page = requests.get(sandbox.platform_url + "/", timeout=10).text
    assert "Live sessions (1)" in page and "live-1" in page and "face_absent" in page


def test_references_travel_once_and_later_segments_name_them_by_url(sandbox, tmp_path):
    photo, clip = tmp_path / "photo.jpg", tmp_path / "mic.wav"
    for args, out in ((["-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1"], photo),
                      (["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1"], clip)):
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args, str(out)], check=True)
    worker = _worker(sandbox, tmp_path, "live-a", "debug")
    try:
        live = LiveSession(sandbox, "debug", "refs", references={"reference_photo": photo})
        ids = []
        for index in range(2):
            ids.append(live.submit(index, 1.0 * index, {f"seg{index}.wav": clip}, last=index == 1))
            _pull_one(worker)
            live.wait(index)
    finally:
        worker.cancel()
    assert sorted(sandbox.media_urls(ids[0])) == ["reference-photo.jpg", "seg0.wav"]
    assert sorted(sandbox.media_urls(ids[1])) == ["seg1.wav"]  # the photo came by URL
    later = live.answers[1][0]["result"]["live"]["segment_result"]["media"]["files"]
    assert [(f["role"], f["readable"]) for f in later] == [("recording", True), ("reference_photo", True)]


def test_a_duplicate_sent_with_a_stale_carry_alerts_under_the_same_ids_and_is_kept_once(sandbox, tmp_path):
    made = make_demo_samples(default_cache(), ["keystrokes"])
    sample = next(s for s in made["keystrokes"] if s.name == "keystrokes-paste-1")
    cuts = plan(sample.duration_s, sample.duration_s / 6)
    files = cut(sample.recordings[0], tmp_path / "segments", cuts)
    worker = _worker(sandbox, tmp_path, "live-a", "keystrokes")
    live = LiveSession(sandbox, "keystrokes", "stale")
    try:
        for index in range(6):
            stale = live.keeper.current()
            live.submit(index, cuts[index][0], {files[index].name: files[index]}, last=index == 5)
            _pull_one(worker)
            live.wait(index)
            if index == 1:  # the same upload again, as first sent (the platform retried it)
                live.submit(index, cuts[index][0], {files[index].name: files[index]}, carry=stale)
                _pull_one(worker)
                assert live.wait(index, count=2)["result"]["live"]["duplicate"] is False
    finally:
        worker.cancel()
    sent = Counter(e["data"]["alert_id"] for e in sandbox.events() if e["event_type"] == "violation_detected")
    kept = {a["alert_id"]: a["copies"] for a in sandbox.alerts()}
    assert sorted(kept) == sorted(live.final["result"]["live"]["alert_ids"]) and len(kept) == 2
    assert sent == Counter(kept) and sorted(kept.values()) == [1, 2]  # the re-sent one, under its id
