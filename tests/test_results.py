"""The result contract: stats, trust score, building, validating and the XQueue reply."""

from __future__ import annotations

import copy
import json
import random

import pytest

from ml_service.core.results import (
    RESULT_SCHEMA_ID,
    ErrorCode,
    build_result,
    compute_stats,
    error_result,
    trust_score,
    validate_result,
    xqueue_reply,
)


def v(vtype: str, start: float, end: float, confidence: float = 0.9) -> dict:
    return {"type": vtype, "start_s": start, "end_s": end, "confidence": confidence}


@pytest.fixture
def result() -> dict:
    return build_result(
        "webcam",
        [v("phone_visible", 30, 40, 0.8), v("face_absent", 5, 12, 0.95)],
        {"duration_s": 100.0, "frames_analysed": 1000, "files": [{"name": "webcam.webm"}]},
        processing_time_s=1.23456,
    )


# --- compute_stats -------------------------------------------------------------------------


def test_stats_merge_overlapping_intervals_per_type():
    stats = compute_stats(
        [v("face_absent", 0, 10), v("face_absent", 5, 15), v("face_absent", 20, 25), v("phone_visible", 3, 4)],
        100.0,
    )
    assert stats == {
        "face_absent": {"count": 3, "total_s": 20.0, "share": 0.2},
        "phone_visible": {"count": 1, "total_s": 1.0, "share": 0.01},
    }


def test_stats_merge_nested_touching_and_unsorted_intervals():
    stats = compute_stats(
        [v("x", 20, 30), v("x", 0, 10), v("x", 2, 3), v("x", 10, 12), v("x", 25, 26)], 60.0
    )
    assert stats["x"]["count"] == 5
    assert stats["x"]["total_s"] == 22.0  # [0,12] + [20,30]


def test_stats_types_do_not_merge_with_each_other():
    stats = compute_stats([v("a", 0, 10), v("b", 0, 10)], 20.0)
    assert stats["a"]["total_s"] == stats["b"]["total_s"] == 10.0
    assert stats["a"]["share"] == stats["b"]["share"] == 0.5


def test_stats_share_capped_at_one():
    stats = compute_stats([v("a", 0, 50)], 20.0)
    assert stats["a"]["total_s"] == 50.0
    assert stats["a"]["share"] == 1.0


@pytest.mark.parametrize("duration", [None, 0, 0.0])
def test_stats_without_duration_have_zero_share(duration):
    stats = compute_stats([v("a", 0, 5), v("a", 3, 8)], duration)
    assert stats == {"a": {"count": 2, "total_s": 8.0, "share": 0.0}}


def test_stats_of_nothing_is_empty():
    assert compute_stats([], 10.0) == {}


# --- trust_score ---------------------------------------------------------------------------


def test_score_is_one_without_violations():
    assert trust_score([], 100.0) == 1.0
    assert trust_score([], None) == 1.0


def test_score_exact_value_for_one_violation():
    # cost = confidence * share = 0.5 * 0.1
    assert trust_score([v("a", 0, 10, 0.5)], 100.0) == 0.95


def test_short_event_still_costs_the_minimum_share():
    assert trust_score([v("a", 5, 5, 1.0)], 100.0) == 0.98
    assert trust_score([v("a", 5, 6, 1.0)], None) == 0.98


def test_score_falls_with_confidence():
    scores = [trust_score([v("a", 0, 20, c)], 100.0) for c in (0.1, 0.5, 0.9, 1.0)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_score_falls_with_duration():
    scores = [trust_score([v("a", 0, length, 0.8)], 100.0) for length in (5, 20, 50, 100)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_score_falls_with_more_violations():
    one = trust_score([v("a", 0, 10)], 100.0)
    two = trust_score([v("a", 0, 10), v("b", 50, 60)], 100.0)
    assert two < one < 1.0


def test_fully_suspicious_session_scores_zero():
    assert trust_score([v("a", 0, 100, 1.0)], 100.0) == 0.0
    assert trust_score([v("a", 0, 500, 1.0)], 100.0) == 0.0  # share above 1 is capped


def test_score_stays_in_unit_interval_for_many_valid_violations():
    rng = random.Random(1234)
    for _ in range(200):
        duration = rng.choice([None, 0.0, rng.uniform(1, 1000)])
        violations = []
        for _ in range(rng.randint(0, 40)):
            start = rng.uniform(0, 1000)
            violations.append(v("a", start, start + rng.uniform(0, 500), rng.uniform(0, 1)))
        score = trust_score(violations, duration)
        assert 0.0 <= score <= 1.0


def test_reversed_interval_costs_only_the_minimum():
    assert trust_score([v("a", 10, 5, 1.0)], 100.0) == 0.98


# --- build_result --------------------------------------------------------------------------


def test_build_result_is_valid_and_derived(result):
    assert validate_result(result) == []
    assert result["schema"] == RESULT_SCHEMA_ID
    assert result["error_code"] == 0
    assert result["modality"] == "webcam"
    assert result["processing_time_s"] == 1.235
    assert result["stats"] == compute_stats(result["violations"], 100.0)
    assert result["score"] == trust_score(result["violations"], 100.0)
    assert 0.0 < result["score"] < 1.0
    json.dumps(result)  # JSON-serialisable


def test_build_result_sorts_violations_by_start_then_type():
    out = build_result(
        "webcam",
        [v("z_type", 10, 11), v("phone_visible", 30, 40), v("a_type", 10, 12), v("face_absent", 0, 1)],
        {"duration_s": 60.0},
        0.5,
    )
    assert [(x["start_s"], x["type"]) for x in out["violations"]] == [
        (0, "face_absent"), (10, "a_type"), (10, "z_type"), (30, "phone_visible"),
    ]
    assert validate_result(out) == []


def test_build_result_without_violations_or_duration():
    out = build_result("audio", [], {}, -3.0)
    assert validate_result(out) == []
    assert out["score"] == 1.0 and out["stats"] == {} and out["violations"] == []
    assert out["processing_time_s"] == 0.0


def test_build_result_does_not_reorder_the_callers_list():
    given = [v("b", 10, 11), v("a", 0, 1)]
    before = copy.deepcopy(given)
    build_result("webcam", given, {"duration_s": 20.0}, 0.1)
    assert given == before


# --- validate_result -----------------------------------------------------------------------


def problems_with(result: dict, **changes) -> list[str]:
    broken = copy.deepcopy(result)
    broken.update(changes)
    return validate_result(broken)


def test_wrong_types_are_reported(result):
    problems = problems_with(result, modality=5, score="high", error_code=1.5, violations={})
    text = "\n".join(problems)
    for field in ("modality", "score", "error_code", "violations"):
        assert any(p.startswith(f"{field}:") for p in problems), text


@pytest.mark.parametrize("key", ["schema", "modality", "error_code", "processing_time_s",
                                 "media", "violations", "stats", "score"])
def test_missing_keys_are_reported(result, key):
    broken = copy.deepcopy(result)
    del broken[key]
    assert validate_result(broken) == [f"(root): '{key}' is a required property"]


def test_confidence_above_one_is_reported(result):
    broken = copy.deepcopy(result)
    broken["violations"][0]["confidence"] = 1.5
    problems = validate_result(broken)
    assert len(problems) == 1
    assert problems[0].startswith("violations/0/confidence:")
    assert "1.5" in problems[0]


def test_unknown_schema_version_is_reported(result):
    problems = problems_with(result, schema="ml-service/result/2")
    assert len(problems) == 1 and problems[0].startswith("schema:")


def test_end_before_start_is_reported(result):
    broken = copy.deepcopy(result)
    broken["violations"][1]["start_s"] = 50
    broken["violations"][1]["end_s"] = 45
    assert validate_result(broken) == ["violations/1: end_s 45 is before start_s 50"]


def test_violation_with_extra_key_or_bad_type_name_is_reported(result):
    broken = copy.deepcopy(result)
    broken["violations"][0]["extra"] = 1
    broken["violations"][1]["type"] = "Phone Visible"
    problems = validate_result(broken)
    assert any(p.startswith("violations/0:") and "extra" in p for p in problems)
    assert any(p.startswith("violations/1/type:") for p in problems)


def test_score_outside_unit_interval_is_reported(result):
    assert problems_with(result, score=1.01)[0].startswith("score:")
    assert problems_with(result, score=-0.1)[0].startswith("score:")


def test_stats_share_above_one_is_reported(result):
    broken = copy.deepcopy(result)
    broken["stats"]["face_absent"]["share"] = 1.2
    assert validate_result(broken)[0].startswith("stats/face_absent/share:")


@pytest.mark.parametrize("not_a_result", [None, [], "result", 3])
def test_non_objects_are_reported_not_raised(not_a_result):
    problems = validate_result(not_a_result)
    assert problems and problems[0].startswith("(root):")


# --- error_result --------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(ErrorCode))
def test_error_result_validates_for_every_code(code):
    out = error_result("webcam", code, "something failed", processing_time_s=2.0)
    assert validate_result(out) == []
    assert out["error_code"] == int(code) and type(out["error_code"]) is int
    assert out["score"] == 0.0
    assert out["msg"] == "something failed"
    assert out["violations"] == [] and out["stats"] == {}
    json.dumps(out)


def test_error_codes_are_distinct_and_stable():
    assert [int(c) for c in ErrorCode] == list(range(12))
    assert ErrorCode.OK == 0 and ErrorCode.HANDLER_RAISED == 1 and ErrorCode.INVALID_RESULT == 2


# --- xqueue_reply --------------------------------------------------------------------------


def test_reply_for_success(result):
    reply = json.loads(xqueue_reply(result, "Looks fine."))
    assert set(reply) == {"correct", "score", "msg", "result", "submission_id", "session_id", "answer_id"}
    assert reply["correct"] is True
    assert reply["score"] == result["score"]
    assert reply["result"] == result
    assert reply["msg"].startswith("<p>") and reply["msg"].endswith("</p>")
    assert f"2 suspected violation(s), trust score {result['score']:.2f}. Looks fine." in reply["msg"]


def test_reply_escapes_html_in_msg(result):
    evil = "<script>alert('x')</script> & \"more\""
    reply = json.loads(xqueue_reply(result, evil))
    assert "<script>" not in reply["msg"]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;more&quot;" in reply["msg"]


@pytest.mark.parametrize("code", [c for c in ErrorCode if c != ErrorCode.OK])
def test_reply_for_error(code):
    err = error_result("webcam", code, "download <failed>")
    reply = json.loads(xqueue_reply(err, "download <failed>"))
    assert reply["correct"] is False
    assert reply["score"] == 0.0
    assert f"analysis failed (error {int(code)})" in reply["msg"]
    assert "<failed>" not in reply["msg"] and "&lt;failed&gt;" in reply["msg"]
    assert reply["result"] == err


def test_reply_is_compact_json_string(result):
    text = xqueue_reply(result, "ok")
    assert isinstance(text, str)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    assert json.loads(text)["result"]["schema"] == RESULT_SCHEMA_ID


def test_reply_carries_what_an_lms_deduplicates_by(result):
    result = {**result, "submission_id": 7, "session_id": "exam-7"}
    first, again = json.loads(xqueue_reply(result, "ok")), json.loads(xqueue_reply(dict(result), "ok"))
    assert (first["submission_id"], first["session_id"]) == (7, "exam-7")
    assert first["answer_id"] == again["answer_id"], "the same answer sent twice has one answer_id"
    other = json.loads(xqueue_reply({**result, "processing_time_s": 9.0}, "ok"))
    assert other["answer_id"] != first["answer_id"]


@pytest.mark.parametrize("score", [1, 0, 69, 0.5])
def test_reply_sends_the_score_it_is_given(result, score):
    reply = json.loads(xqueue_reply(result, "ok", score))
    assert reply["score"] == score and reply["result"]["score"] == result["score"]



def test_a_numpy_number_in_a_result_is_reported_not_a_crash_when_sending(result):
    import numpy as np

    broken = copy.deepcopy(result)
    broken["violations"][0]["details"] = {"box": [np.float32(502.9), 91.0]}
    assert validate_result(result) == []
    assert [p for p in validate_result(broken) if "not plain JSON" in p and "float32" in p]
