"""The live-session core: carry, timeline, alerts and LiveJob, with a scripted handler."""

from __future__ import annotations

import json

import pytest

from ml_service.core import carry as carry_mod
from ml_service.core.alerts import alert_id, assign
from ml_service.core.bounded import JSON_MAX_CHARS
from ml_service.core.carry import (BODY_CARRIES, CARRY_SCHEMA_ID, MAX_CARRY_BYTES, MAX_CARRY_DEPTH, Carry, SegmentRecord,
                              read_carries)
from ml_service.core.live import LiveJob, SegmentSpec
from ml_service.local.live_local import CarryKeeper
from ml_service.core.results import ErrorCode, build_result, error_result, validate_result
from ml_service.core.submission import Pulled, parse_body
from ml_service.core.timeline import gaps, join_across_cuts, violations


def ev(kind: str, start: float, end: float, **details) -> dict:
    event = {"type": kind, "start_s": start, "end_s": end, "confidence": 0.8}
    if details:
        event["details"] = details
    return event


def rec(index: int, offset: float, end: float, *events: dict, ok: bool = True, follows: bool = True) -> SegmentRecord:
    tagged = tuple({**e, "alert_id": alert_id("s", "webcam", e), "since_s": e["start_s"],
                    "alerted": "partial_min_s" not in (e.get("details") or {})} for e in events)
    return SegmentRecord(index, offset, end, follows, 0 if ok else 5, tagged if ok else ())


# -- timeline ------------------------------------------------------------------------------

def test_events_touching_a_cut_are_joined_and_others_are_not():
    segs = [rec(0, 0, 60, ev("face_absent", 50, 60), ev("talking", 10, 12)),
            rec(1, 60, 120, ev("face_absent", 60, 70), ev("talking", 61.5, 63)),
            rec(2, 120, 180, ev("face_absent", 120, 180)),
            rec(3, 180, 240, ev("face_absent", 180, 185), ev("head_turned", 180, 190, direction="left"))]
    segs[2] = rec(2, 120, 180, ev("head_turned", 170, 180, direction="right"))
    joined = join_across_cuts(segs)
    assert [(e["type"], e["start_s"], e["end_s"]) for e in joined] == [
        ("talking", 10, 12), ("face_absent", 50, 70), ("talking", 61.5, 63),
        ("head_turned", 170, 180), ("face_absent", 180, 185), ("head_turned", 180, 190)]


def test_an_event_spanning_whole_segments_is_one_event():
    segs = [rec(i, 60 * i, 60 * (i + 1), ev("idle", 60 * i + (30 if i == 0 else 0), 60 * (i + 1) - (20 if i == 3 else 0)))
            for i in range(4)]
    assert [(e["start_s"], e["end_s"]) for e in join_across_cuts(segs)] == [(30, 220)]


def test_no_join_across_a_missing_or_failed_segment_and_both_are_gaps():
    segs = [rec(0, 0, 60, ev("face_absent", 50, 60)), rec(1, 60, 120, ok=False),
            rec(2, 120, 180, ev("face_absent", 120, 130)), rec(4, 240, 300, ev("face_absent", 240, 250))]
    assert len(join_across_cuts(segs)) == 3
    assert gaps(segs, last_index=4) == [
        {"index": 1, "start_s": 60, "end_s": 120, "reason": "analysis failed (error 5)"},
        {"index": 3, "start_s": 180, "end_s": 240, "reason": "not received"}]


def test_fragments_count_only_when_the_joined_violation_is_long_enough():
    short = ev("idle", 50, 60, partial_min_s=30)
    segs = [rec(0, 0, 60, short), rec(1, 60, 120, ev("idle", 60, 75, partial_min_s=30))]
    assert violations(join_across_cuts(segs)) == []  # 25 s < 30 s
    segs[1] = rec(1, 60, 120, ev("idle", 60, 85, partial_min_s=30))
    (idle,) = violations(join_across_cuts(segs))
    assert (idle["start_s"], idle["end_s"]) == (50, 85)


# -- carry ---------------------------------------------------------------------------------

def carry_json(*records: SegmentRecord, handler: dict | None = None, session: str = "s") -> dict:
    c = Carry(session, "webcam", {r.index: r for r in records}, handler or {})
    return c.to_json()


def test_a_carry_round_trips_and_validates_against_its_schema():
    data = carry_json(rec(0, 0, 60, ev("face_absent", 1, 5)), handler={0: {"first_person": [0.1] * 4}})
    assert data["schema"] == CARRY_SCHEMA_ID and data["seen"] == [0]
    carry, notes = read_carries(json.loads(json.dumps(data)), "s", "webcam")
    assert notes == [] and carry.segments[0].violations[0]["type"] == "face_absent"
    assert carry.handler_state(1) == ({"first_person": [0.1] * 4}, 0)


@pytest.mark.parametrize("mutate, note", [
    (lambda d: d.update(schema="ml-service/carry/2"), "ml-service/carry/2"),
    (lambda d: d.update(session_id="other"), "another session"),
    (lambda d: d.update(modality="audio"), "modality 'audio'"),
    (lambda d: d.update(seen=[0, 1]), "seen does not list"),
    (lambda d: d["segments"][0].update(index=-1), "segments/0/index"),
])
def test_a_bad_carry_is_ignored_with_a_note(mutate, note):
    data = carry_json(rec(0, 0, 60))
    mutate(data)
    carry, notes = read_carries(data, "s", "webcam")
    assert carry is None and len(notes) == 1 and note in notes[0]


def test_crossed_carries_are_merged_and_a_success_wins_over_a_failure():
    first = carry_json(rec(0, 0, 60), rec(1, 60, 120, ok=False), handler={0: {"n": 0}})
    second = carry_json(rec(0, 0, 60), rec(1, 60, 120, ev("talking", 70, 75)), rec(3, 180, 240),
                        handler={1: {"n": 1}, 3: {"n": 3}})
    carry, _ = read_carries([first, second], "s", "webcam")
    assert carry.seen == [0, 1, 3] and carry.segments[1].ok
    assert carry.handler_state(2) == ({"n": 1}, 1) and carry.handler_state(0) == ({"n": 3}, 3)


def test_the_carry_keeps_only_recent_handler_states_and_stays_small(monkeypatch):
    carry = Carry("s", "webcam")
    for i in range(7):
        carry = carry.with_segment(rec(i, 60 * i, 60 * (i + 1)), {"i": i}, last=False)
    assert sorted(carry.handler) == [3, 4, 5, 6]
    assert carry.with_segment(rec(7, 420, 480), {"big": "x" * 40000}, last=False).handler.get(7) is None
    monkeypatch.setattr(carry_mod, "MAX_CARRY_BYTES", 3000)
    big = Carry("s", "webcam", {i: rec(i, 60 * i, 60 * i + 60, ev("gaze_away", 60 * i, 60 * i + 5, note="n" * 100))
                                for i in range(10)})
    data = big.to_json()
    assert data["trimmed"] and len(json.dumps(data)) <= 3000
    assert "details" not in data["segments"][0]["violations"][0] and data["segments"][-1]["violations"][0]["details"]


def _big_carry() -> dict:
    """A 4-hour webcam session with many detailed events: trimmed to the limit."""
    records = {i: rec(i, 60 * i, 60 * i + 60, *(ev("gaze_away", 60 * i + k, 60 * i + k + 1, note="n" * 300)
                                              for k in range(0, 60, 20))) for i in range(240)}
    return Carry("s", "webcam", records, {i: {"pad": "p" * 20000} for i in range(236, 240)}).to_json()


def _segment_pulled(body: dict) -> Pulled:
    return Pulled("{}", 1, "k", json.dumps(body), {"seg.webm": "http://127.0.0.1/seg.webm"})


def test_full_size_carries_fit_in_a_segment_body_under_the_untrusted_json_limits():
    data = _big_carry()
    size = len(json.dumps(data))
    assert data["trimmed"] and MAX_CARRY_BYTES - 2000 < size <= MAX_CARRY_BYTES
    assert len(data["handler"]) == 4 and "details" in data["segments"][-1]["violations"][0]
    body = {"session_id": "s", "modality": "webcam", "recordings": ["seg.webm"],
            "segment": {"index": 240, "offset_s": 14400.0, "carry": [data] * BODY_CARRIES}}
    assert len(json.dumps(body)) <= JSON_MAX_CHARS
    spec = parse_body(_segment_pulled(body))
    carry, notes = read_carries(spec.segment["carry"], "s", "webcam")
    assert notes == [] and carry.seen == list(range(240))
    inner = {**body, "segment": {**body["segment"], "carry": [data] * 2}}
    envelope = {"grader_payload": json.dumps({"grader": "webcam"}), "student_response": json.dumps(inner)}
    assert parse_body(_segment_pulled(envelope)).segment["index"] == 240


def _nested(levels: int) -> dict:
    out: dict = {"leaf": 1}
    for _ in range(levels - 1):
        out = {"x": out}
    return out


def test_deep_handler_states_and_details_stay_out_of_the_carry_so_the_next_body_parses():
    deep = _nested(MAX_CARRY_DEPTH)
    carry = Carry("s", "webcam").with_segment(rec(0, 0, 60, ev("gaze_away", 1, 2, deep=deep, side="left")),
                                              deep, last=False)
    assert carry.handler == {}
    data = carry.to_json()
    assert data["segments"][0]["violations"][0].get("details") is None and data["trimmed"]
    kept = Carry("s", "webcam").with_segment(rec(0, 0, 60, ev("gaze_away", 1, 2, side="left")), {"a": 1}, False)
    assert kept.to_json()["segments"][0]["violations"][0]["details"] == {"side": "left"}
    envelope = {"grader_payload": "{}", "student_response": {"session_id": "s", "recordings": ["seg.webm"],
                                                            "segment": {"index": 1, "offset_s": 60, "carry": [data]}}}
    assert read_carries(parse_body(_segment_pulled(envelope)).segment["carry"], "s", "webcam")[1] == []


def test_the_platform_keeps_carries_that_no_other_covers():
    keeper = CarryKeeper()
    c01, c013, c012 = ({"seen": s} for s in ([0, 1], [0, 1, 3], [0, 1, 2]))
    keeper.add(c01)
    keeper.add(c013)
    assert keeper.current() is c013
    keeper.add(c012)
    assert keeper.current() == [c013, c012]
    keeper.add({"seen": [0, 1, 2, 3]})
    assert keeper.current() == {"seen": [0, 1, 2, 3]}
    keeper.add(c01)
    assert keeper.current() == {"seen": [0, 1, 2, 3]}


# -- alerts --------------------------------------------------------------------------------

def test_alert_ids_are_stable_and_a_continued_violation_keeps_its_id():
    assert alert_id("s", "webcam", ev("face_absent", 50.02, 60)) == alert_id("s", "webcam", ev("face_absent", 50.0, 61))
    assert alert_id("s", "webcam", ev("face_absent", 50, 60)) != alert_id("t", "webcam", ev("face_absent", 50, 60))
    carry = Carry("s", "webcam", {0: rec(0, 0, 60, ev("face_absent", 50, 60))})
    tagged, shown, new = assign(carry, 1, 60, 120, [ev("face_absent", 60, 70), ev("talking", 80, 85)])
    assert tagged[0]["alert_id"] == carry.segments[0].violations[0]["alert_id"] and tagged[0]["since_s"] == 50
    assert [e["type"] for e in shown] == ["face_absent", "talking"] and [e["type"] for e in new] == ["talking"]


def test_a_fragment_is_alerted_once_its_violation_is_long_enough():
    carry = Carry("s", "keystrokes", {0: rec(0, 0, 60, ev("idle", 45, 60, partial_min_s=30))})
    _, shown, new = assign(carry, 1, 60, 120, [ev("idle", 60, 70, partial_min_s=30)])
    assert shown == [] and new == []  # 25 s so far
    _, shown, new = assign(carry, 1, 60, 120, [ev("idle", 60, 80, partial_min_s=30)])
    assert len(shown) == 1 and [(e["start_s"], e["end_s"]) for e in new] == [(45, 80)]


def test_an_event_continued_by_a_segment_analysed_earlier_is_not_alerted_again():
    carry = Carry("s", "webcam", {2: rec(2, 120, 180, ev("face_absent", 120, 130))})
    tagged, _, new = assign(carry, 1, 60, 120, [ev("face_absent", 110, 120)])
    assert new == [] and tagged[0]["alert_id"] == carry.segments[2].violations[0]["alert_id"]


# -- LiveJob -------------------------------------------------------------------------------

def handler_result(*events: dict, duration: float = 60.0, state: dict | None = None) -> dict:
    result = build_result("webcam", list(events), {"duration_s": duration}, 1.0)
    if state is not None:
        result["carry"] = state
    return result


def play(index: int, offset: float, result: dict, carry=None, last: bool = False, alerts: list | None = None):
    job = LiveJob(SegmentSpec(index, offset, last, None, carry), "s", "webcam", 100 + index)
    view = job.handler_view()
    answer, msg = job.finish(result, "ok", ["seg.webm"], (alerts if alerts is not None else []).append)
    assert validate_result(answer) == []
    return job, view, answer, msg


def test_segments_answer_on_the_session_timeline_and_the_last_with_the_session():
    alerts: list[dict] = []
    _, view0, a0, _ = play(0, 0.0, handler_result(ev("face_absent", 50, 60), state={"k": 0}), alerts=alerts)
    assert view0 == {"index": 0, "offset_s": 0.0, "last": False, "carry": None, "follows": False, "carry_from": None}
    _, view1, a1, _ = play(1, 60.0, handler_result(ev("face_absent", 0, 5), ev("talking", 20, 25)),
                           carry=a0["carry"], alerts=alerts)
    assert view1["carry"] == {"k": 0} and view1["follows"] is True
    assert [(v["start_s"], v["end_s"]) for v in a1["violations"]] == [(60, 65), (80, 85)]
    assert a1["live"]["carry"] == "used" and a1["live"]["final"] is False
    _, _, a2, msg = play(2, 120.0, handler_result(duration=30.0), carry=a1["carry"], last=True, alerts=alerts)
    assert a2["live"]["final"] and a2["media"]["duration_s"] == 150.0 and a2["live"]["gaps"] == []
    assert [(v["type"], v["start_s"], v["end_s"]) for v in a2["violations"]] == [
        ("face_absent", 50, 65), ("talking", 80, 85)]
    assert a2["stats"]["face_absent"]["share"] == pytest.approx(15 / 150, abs=1e-3)
    assert [a["type"] for a in alerts] == ["face_absent", "talking"] and "2 suspected violation(s)" in msg
    assert alerts[0]["evidence"] == {"segment_index": 0, "submission_id": 100, "recording": "seg.webm",
                                     "from_s": 50.0, "to_s": 60.0} and alerts[0]["open"] is True
    assert sorted(a2["live"]["alert_ids"]) == sorted(a["alert_id"] for a in alerts)


def test_without_a_carry_a_segment_is_analysed_alone_and_the_final_reports_the_gap():
    _, view, a3, _ = play(3, 180.0, handler_result(ev("talking", 1, 5)), last=True)
    assert view["carry"] is None and a3["live"]["carry"] == "none"
    assert a3["live"]["final"] and [g["index"] for g in a3["live"]["gaps"]] == [0, 1, 2]
    assert a3["live"]["gaps"][0] == {"index": 0, "start_s": 0.0, "end_s": 180.0, "reason": "not received"}


def test_a_duplicate_is_answered_from_the_carry_without_analysis_or_alerts():
    _, _, a0, _ = play(0, 0.0, handler_result(ev("face_absent", 50, 60)))
    job = LiveJob(SegmentSpec(0, 0.0, False, None, a0["carry"]), "s", "webcam", 7)
    assert job.known is not None
    again, msg = job.answer_known()
    assert again["live"]["duplicate"] and again["violations"] == a0["violations"] and "already analysed" in msg
    assert again["carry"] == a0["carry"]


def test_a_failed_segment_keeps_the_carry_going_and_is_analysed_again_when_offered_again():
    _, _, a0, _ = play(0, 0.0, handler_result(ev("face_absent", 50, 60)))
    failed = error_result("webcam", ErrorCode.MEDIA_DOWNLOAD, "download failed")
    _, _, a1, _ = play(1, 60.0, failed, carry=a0["carry"])
    assert a1["error_code"] == 3 and a1["carry"]["seen"] == [0, 1]
    assert LiveJob(SegmentSpec(1, 60.0, False, None, a1["carry"]), "s", "webcam", 9).known is None
    _, _, a2, _ = play(2, 120.0, handler_result(), carry=a1["carry"], last=True)
    assert a2["live"]["gaps"] == [{"index": 1, "start_s": 60.0, "end_s": 120.0, "reason": "analysis failed (error 3)"}]


def test_a_violation_only_the_final_merge_shows_is_alerted_with_the_last_segment():
    alerts: list[dict] = []
    fragment = {**ev("idle", 45, 60), "details": {"partial_min_s": 30}}
    _, _, a0, _ = play(0, 0.0, handler_result(fragment), alerts=alerts)
    rest = {**ev("idle", 0, 20), "details": {"partial_min_s": 30}}
    _, _, a1, _ = play(1, 60.0, handler_result(rest, duration=30.0), last=True, alerts=alerts,
                       carry=None)  # analysed without segment 0's carry: nothing joined yet
    assert a1["live"]["gaps"] and alerts == []
    _, _, a1, _ = play(1, 60.0, handler_result(rest, duration=30.0), last=True, alerts=alerts, carry=a0["carry"])
    assert [(a["type"], a["start_s"], a["end_s"]) for a in alerts] == [("idle", 45, 80)]
    assert a1["live"]["alerted"] == a1["live"]["alert_ids"] == [alerts[0]["alert_id"]]
    crossed = [a0["carry"], {**a0["carry"], "seen": [1], "segments": [
        {"index": 1, "offset_s": 60.0, "end_s": 90.0, "follows": False, "error_code": 0,
         "violations": [{**rest, "start_s": 60.0, "end_s": 80.0, "alert_id": "0" * 20, "since_s": 60.0,
                         "alerted": False}]}]}]
    late: list[dict] = []
    _, _, a2, _ = play(2, 90.0, handler_result(duration=10.0), last=True, alerts=late, carry=crossed)
    assert [(a["type"], a["start_s"], a["end_s"], a["evidence"]["segment_index"]) for a in late] == [("idle", 45, 80, 0)]
    assert a2["live"]["gaps"] == [] and len(a2["violations"]) == 1
