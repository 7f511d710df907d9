"""The CLI worker against a real edx-submissions 4.0.2 server, judged by the server's own database.

Every submission is created with ``submissions.api.create_external_grader_detail`` and media
files; every test checks ``submissions_externalgraderdetail`` (the status: ``retired``, never
``retry`` or ``failed``) and ``submissions_score`` (exactly one score, the one expected).
"""

from __future__ import annotations

import json
import signal

import pytest

from ml_service.sandbox.demo_media import make_wav, silent_gap
from tests.interop.conftest import final_events, run_worker, start_worker, wait_for, worker_env

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A generated 6 s microphone recording with a muted stretch (40-60 %)."""
    folder = tmp_path_factory.mktemp("media")
    return make_wav(folder / "microphone.wav", 6.0, gap=silent_gap(6.0))


def answers(edx, ids):
    return {sid: json.loads(row["grader_reply"]) for sid, row in edx.graders(ids).items()}


def assert_retired_once(edx, ids, points):
    """Each submission retired, no failure, exactly one score with the expected points."""
    graders, scores = edx.graders(ids), edx.scores(ids)
    for sid in ids:
        assert graders[sid]["status"] == "retired" and graders[sid]["num_failures"] == 0, graders[sid]
        assert [(s["points_earned"], s["points_possible"]) for s in scores[sid]] == [points[sid]], scores[sid]


def test_debug_worker_retires_every_submission_with_its_score_stored(edx, platform, tmp_path, clip):
    ids, points = [], {}
    for i, possible in enumerate((1, 1, 10, 10)):
        description = {"session_id": f"exam-debug-{i}", "options": {"note": i}}
        sid = edx.submit("debug", description, {"microphone.wav": clip}, student=f"s{i}", grader="debug",
                         points_possible=possible)
        ids.append(sid)
    log = run_worker(worker_env(edx, platform, tmp_path, "debug"), "--burst", log=tmp_path / "worker.log")

    assert "XQueue at" in log and "is edx-submissions" in log, "ML_XQUEUE_FLAVOUR=auto found the server"
    replies = answers(edx, ids)
    for i, sid in enumerate(ids):
        reply = replies[sid]
        assert reply["correct"] is True and reply["session_id"] == f"exam-debug-{i}"
        assert reply["submission_id"] == sid and reply["result"]["error_code"] == 0
        trust = reply["result"]["score"]
        assert reply["score"] == (1 if trust >= 0.5 else 0), "default score mode for edx-submissions: pass"
        possible = 1 if i < 2 else 10
        points[sid] = (reply["score"] * possible, possible)
    assert_retired_once(edx, ids, points)
    assert final_events(platform, "debug") == {sid: ["session_processing_end"] for sid in ids}


def test_a_real_analyser_on_a_generated_clip(edx, platform, tmp_path, clip):
    description = {"session_id": "exam-audio-1", "options": {"mic_dead_min_s": 1.0}}  # per-exam option
    sid = edx.submit("audio", description, {"microphone.wav": clip}, student="a1", grader="audio",
                     points_possible=100)
    env = worker_env(edx, platform, tmp_path, "audio", ML_ANALYZER="handlers.audio.audio.process",
                     ML_XQUEUE_SCORE="fraction")
    run_worker(env, "--burst", log=tmp_path / "worker.log", timeout_s=200)

    reply = answers(edx, [sid])[sid]
    result = reply["result"]
    assert result["error_code"] == 0 and result["modality"] == "audio"
    muted = [v for v in result["violations"] if v["type"] == "mic_muted_or_dead"]
    assert len(muted) == 1 and abs(muted[0]["start_s"] - 2.4) < 0.3 and abs(muted[0]["end_s"] - 3.6) < 0.3, muted
    assert reply["score"] == result["score"] < 1.0, "fraction: the trust score itself"
    assert_retired_once(edx, [sid], {sid: (round(result["score"] * 100), 100)})
    assert final_events(platform, "audio") == {sid: ["session_processing_end"]}


def test_a_raising_handler_gets_an_error_answer_stored_once(edx, platform, tmp_path, clip):
    sid = edx.submit("raising", {"session_id": "exam-raise"}, {"microphone.wav": clip}, student="r1")
    env = worker_env(edx, platform, tmp_path, "raising", ML_ANALYZER="tests.sample_handlers.raises")
    run_worker(env, "--burst", log=tmp_path / "worker.log")

    reply = answers(edx, [sid])[sid]
    assert reply["correct"] is False and reply["score"] == 0 and reply["result"]["error_code"] == 1
    assert "ZeroDivisionError: model exploded" in reply["msg"]
    assert_retired_once(edx, [sid], {sid: (0, 1)})
    assert final_events(platform, "raising") == {sid: ["session_processing_failed"]}


def test_bad_input_is_answered_with_an_error_never_re_offered(edx, platform, tmp_path):
    bad = {
        edx.submit("bad", "this is not JSON", {}, student="b1"): "student_response is not JSON ('this is not JSON')",
        edx.submit("bad", {"modality": "debug"}, {}, student="b2"): "student_response has no session_id",
        edx.submit("bad", "", {}, student="b3"): "student_response is empty",
    }
    run_worker(worker_env(edx, platform, tmp_path, "bad"), "--burst", log=tmp_path / "worker.log")

    replies = answers(edx, list(bad))
    for sid, text in bad.items():
        assert replies[sid]["result"]["error_code"] == 4 and text in replies[sid]["result"]["msg"], replies[sid]
    assert_retired_once(edx, list(bad), {sid: (0, 1) for sid in bad})


def test_stale_key_two_workers_one_answer_and_no_failure_after_the_end(edx, platform, tmp_path, clip):
    started, release = tmp_path / "started", tmp_path / "release"
    sid = edx.submit("stale", {"session_id": "exam-stale", "options": {"started": str(started),
                                                                       "release": str(release)}},
                     {"microphone.wav": clip}, student="t1")
    slow_env = worker_env(edx, platform, tmp_path / "a", "stale", ML_ANALYZER="tests.sample_handlers.wait_for_release",
                          ML_SERVICE_NAME="slow")
    slow = start_worker(slow_env, "--max-jobs", "1", log=tmp_path / "slow.log")
    wait_for(started)
    first_key = edx.graders([sid])[sid]["pullkey"]
    # The lease (5 minutes, hard-coded) runs out: the server offers the submission again.
    edx.sql("UPDATE submissions_externalgraderdetail SET status_time = datetime('now', '-6 minutes') "
            "WHERE submission_id = ?", sid)
    fast_env = worker_env(edx, platform, tmp_path / "b", "stale", ML_SERVICE_NAME="fast")
    run_worker(fast_env, "--burst", log=tmp_path / "fast.log")
    edx.wait_status(sid, "retired")
    assert edx.graders([sid])[sid]["pullkey"] == first_key, "4.0.2 re-offers a lapsed lease with the same key"
    release.write_text("go")
    assert slow.wait(60) == 0

    slow_log = (tmp_path / "slow.log").read_text()
    assert "Lost the lease on submission" in slow_log and "graded already" in slow_log, slow_log
    assert slow_log.count("put_result") <= 1 and "Could not deliver" not in slow_log, "no retry loop on HTTP 500"
    reply = answers(edx, [sid])[sid]
    assert reply["result"]["error_code"] == 0
    assert_retired_once(edx, [sid], {sid: (reply["score"], 1)})
    assert final_events(platform, "stale") == {sid: ["session_processing_end"]}, "the stale worker posts no failure"


def test_a_worker_killed_mid_job_finishes_it_after_a_restart(edx, platform, tmp_path, clip):
    marker = tmp_path / "hang-marker"
    sid = edx.submit("restart", {"session_id": "exam-restart", "options": {"marker": str(marker)}},
                     {"microphone.wav": clip}, student="k1")
    env = worker_env(edx, platform, tmp_path, "restart", ML_ANALYZER="tests.sample_handlers.hang_once")
    first = start_worker(env, log=tmp_path / "worker.log")
    wait_for(marker)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert edx.graders([sid])[sid]["status"] == "pulled"

    log = run_worker(env, "--burst", log=tmp_path / "worker.log")
    assert "was interrupted" in log
    reply = answers(edx, [sid])[sid]
    assert reply["result"]["error_code"] == 0 and reply["session_id"] == "exam-restart"
    assert_retired_once(edx, [sid], {sid: (reply["score"], 1)})
    assert final_events(platform, "restart") == {sid: ["session_processing_end"]}


def test_an_answer_the_server_does_not_store_is_reported_then_answered_with_error_11(edx, platform, tmp_path, clip):
    # More points than its integer column holds (2**63 - 1 here; 4294967295 on MySQL): set_score
    # fails, yet put_result answers 0 and the submission comes back as "retry".
    sid = edx.submit("unstored", {"session_id": "exam-unstored"}, {"microphone.wav": clip}, student="u1")
    env = worker_env(edx, platform, tmp_path, "unstored", ML_XQUEUE_SCORE="points",
                     ML_XQUEUE_MAX_POINTS=str(10**20))
    log = run_worker(env, "--burst", log=tmp_path / "worker.log")

    assert "did not store the score" in log and " ERROR " in log, log
    row = edx.graders([sid])[sid]
    assert (row["status"], row["num_failures"]) == ("retired", 1), row
    reply = answers(edx, [sid])[sid]
    assert reply["result"]["error_code"] == 11 and "offered the submission again" in reply["msg"]
    assert [s["points_earned"] for s in edx.scores([sid])[sid]] == [0], "only the error answer was stored"
    events = [e for e in platform.events() if e["data"].get("submission_id") == sid
              and e["event_type"] in ("session_processing_end", "session_processing_failed")]
    assert [e["event_type"] for e in events] == ["session_processing_end", "session_processing_failed"]
    assert "did not store the score" in events[-1]["data"]["answer_not_stored"]
    assert events[-1]["data"]["error_code"] == 11
