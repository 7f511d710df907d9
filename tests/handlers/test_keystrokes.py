"""handlers.keystrokes.keystrokes.process on keystroke logs simulated on the fly (never skipped)."""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from handlers.keystrokes import keystrokes
from ml_service.samples import evaluation
from ml_service.core.results import ErrorCode, validate_result
from ml_service.samples import handler_input
from ml_service.samples import keystrokes as sim

ROOT = Path(__file__).resolve().parents[2]


def _item(path: Path) -> dict[str, Any]:
    return {"name": path.name, "path": str(path), "size": path.stat().st_size}


def _run(recordings: list[Path], **options: Any) -> dict[str, Any]:
    submission = {"submission_id": 5, "session_id": "exam42-student7", "modality": "keystrokes",
                  "options": options, "recordings": [_item(p) for p in recordings],
                  "reference_photo": None, "reference_voice": None, "work_dir": str(recordings[0].parent)}
    result, msg = keystrokes.process(json.loads(json.dumps(submission)))
    assert validate_result(result) == []
    assert isinstance(msg, str) and msg
    assert json.loads(json.dumps(result)) == result  # travels as JSON between processes
    return result


def _session(tmp: Path, plan: sim.Plan, seconds: float, seed: int = 3, enrolled: bool = False,
             name: str = "session") -> tuple[list[Path], list[dict[str, Any]]]:
    typists = {0: sim.Typist(40 + seed), 1: sim.Typist(41 + seed)}
    log = tmp / f"{name}.json"
    truth = sim.make_session(log, plan, seed=seed, duration_s=seconds, typists=typists)
    if not enrolled:
        return [log], truth
    enrolment = tmp / f"{name}.enrolment.json"
    sim.make_session(enrolment, [("type", 0, 150.0)], seed=seed + 1, duration_s=150.0,
                     typists={0: sim.Typist(40 + seed)})
    return [log, enrolment], truth


def _of(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v for v in result["violations"] if v["type"] == kind]


def _assert_found(result: dict[str, Any], truth: list[dict[str, Any]], kind: str, min_iou: float) -> None:
    expected = [e for e in truth if e["type"] == kind]
    found = _of(result, kind)
    assert expected and len(found) == len(expected), (expected, found)
    for e, v in zip(expected, found):
        assert evaluation.interval_iou(e, v) >= min_iou, (e, v)
        assert 0.5 <= v["confidence"] <= 1.0


def _write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_process_is_what_ml_analyzer_names() -> None:
    assert pkgutil.resolve_name("handlers.keystrokes.keystrokes.process") is keystrokes.process


@pytest.mark.parametrize("enrolled", [True, False])
def test_clean_session_has_no_violations(tmp_path: Path, enrolled: bool) -> None:
    logs, truth = _session(tmp_path, [("type", 0, 100.0)], 100.0, enrolled=enrolled)
    result = _run(logs)
    assert truth == [] and result["violations"] == [] and result["score"] == 1.0
    assert result["error_code"] == ErrorCode.OK and result["media"]["duration_s"] == pytest.approx(100.0, abs=0.5)
    note = result["media"]["checks"]["typist_change"]
    assert note["evaluated"] and note["baseline"] == ("enrolment" if enrolled else "session_start")
    assert [f["role"] for f in result["media"]["files"]] == ["recording"] + (["enrolment"] if enrolled else [])


def test_typist_change_against_the_enrolment_profile(tmp_path: Path) -> None:
    logs, truth = _session(tmp_path, [("type", 0, 20.0), ("type", 1, 60.0)], 60.0, enrolled=True)
    result = _run(logs)
    _assert_found(result, truth, "typist_change", 0.6)
    details = _of(result, "typist_change")[0]["details"]
    assert details["baseline"] == "enrolment" and details["evidence"] >= details["threshold"] == 120.0


def test_typist_change_against_the_session_start(tmp_path: Path) -> None:
    logs, truth = _session(tmp_path, [("type", 0, 70.0), ("type", 1, 120.0)], 120.0)
    result = _run(logs)
    _assert_found(result, truth, "typist_change", 0.6)
    assert result["media"]["checks"]["typist_change"]["baseline_keystrokes"] == 200


def test_impostor_who_hands_back_is_one_interval(tmp_path: Path) -> None:
    plan = [("type", 0, 15.0), ("type", 1, 45.0), ("type", 0, 75.0)]
    logs, truth = _session(tmp_path, plan, 75.0, seed=4, enrolled=True)
    _assert_found(_run(logs), truth, "typist_change", 0.6)


def test_typist_thresholds_come_from_the_options(tmp_path: Path) -> None:
    logs, _ = _session(tmp_path, [("type", 0, 20.0), ("type", 1, 60.0)], 60.0, enrolled=True)
    peak = _of(_run(logs), "typist_change")[0]["details"]["evidence"]
    assert _of(_run(logs, typist_evidence=peak * 0.99), "typist_change")[0]["details"]["test"] == "sequential"
    # past the sequential threshold, the whole-session test still sees another typist ...
    session = _of(_run(logs, typist_evidence=peak * 1.01), "typist_change")
    assert [v["details"]["test"] for v in session] == ["session"]
    effect = session[0]["details"]["effect"]
    assert effect >= session[0]["details"]["effect_threshold"] == 0.8
    # ... until its own thresholds are raised past what it measured
    assert _of(_run(logs, typist_evidence=peak * 1.01, typist_session_effect=effect * 1.01), "typist_change") == []
    assert _of(_run(logs, typist_evidence=peak * 1.01, typist_session_significance=1e6), "typist_change") == []


def test_too_short_an_enrolment_falls_back_to_the_session_start(tmp_path: Path) -> None:
    logs, _ = _session(tmp_path, [("type", 0, 90.0)], 90.0, enrolled=True)
    result = _run(logs, typist_baseline_keys=5000)
    note = result["media"]["checks"]["typist_change"]
    assert note["baseline"] == "session_start" and not note["evaluated"]
    assert "fewer than typist_baseline_keys (5000)" in note["enrolment_ignored"]


def test_paste_bursts_found_and_small_pastes_ignored(tmp_path: Path) -> None:
    plan = [("type", 0, 10.0), ("paste", 300), ("type", 0, 20.0), ("paste", 20), ("type", 0, 30.0),
            ("paste", 30), ("paste", 40), ("type", 0, 40.0)]
    logs, truth = _session(tmp_path, plan, 40.0)
    result = _run(logs)
    _assert_found(result, truth, "paste_burst", 0.99)
    assert [v["details"] for v in _of(result, "paste_burst")] == [{"chars": 300, "pastes": 1},
                                                                   {"chars": 70, "pastes": 2}]
    assert _of(_run(logs, paste_min_chars=500), "paste_burst") == []


@pytest.mark.parametrize("kind", ["constant", "jitter", "fast"])
def test_automation_found_and_not_taken_for_a_typist_change(tmp_path: Path, kind: str) -> None:
    plan = [("type", 0, 20.0), ("bot", kind, 40.0), ("type", 0, 60.0)]
    logs, truth = _session(tmp_path, plan, 60.0, enrolled=True)
    result = _run(logs)
    _assert_found(result, truth, "automation", 0.9)
    assert _of(result, "typist_change") == []
    reason = _of(result, "automation")[0]["details"]["reason"]
    assert reason == ("too fast" if kind == "fast" else "regular timing")


def test_idle_found_and_threshold_from_options(tmp_path: Path) -> None:
    logs, truth = _session(tmp_path, [("type", 0, 15.0), ("idle", 50.0), ("type", 0, 60.0)], 60.0)
    result = _run(logs)
    _assert_found(result, truth, "idle", 0.999)
    assert _of(result, "idle")[0]["details"]["gap_s"] > 34.0
    assert _of(_run(logs, idle_min_s=40.0), "idle") == []


def test_idle_at_the_edges_only_when_asked(tmp_path: Path) -> None:
    log = _write(tmp_path / "late.json", {"duration": 100_000, "events": [
        {"t": 40_000, "type": "down", "key": 1}, {"t": 40_100, "type": "up", "key": 1}]})
    assert _run([log])["violations"] == []
    found = _of(_run([log], idle_include_edges=True), "idle")
    assert [(v["start_s"], v["end_s"]) for v in found] == [(0.0, 40.0), (40.1, 100.0)]


def test_checks_option_runs_only_those(tmp_path: Path) -> None:
    logs, _ = _session(tmp_path, [("type", 0, 10.0), ("paste", 300), ("idle", 50.0), ("type", 0, 55.0)], 55.0)
    result = _run(logs, checks=["idle"])
    assert {v["type"] for v in result["violations"]} == {"idle"}
    assert list(result["media"]["checks"]) == ["idle"]


def test_log_details_are_read_as_documented(tmp_path: Path) -> None:
    events = [{"t": 0.5, "type": "focus"}, {"t": 1.0, "type": "down", "key": "a1"},
              {"t": 1.2, "type": "down", "key": "a1"}, {"t": 1.3, "type": "up", "key": "a1"},
              {"t": 1.4, "type": "up", "key": 77}, {"t": 2.0, "type": "paste", "chars": 0}]
    result = _run([_write(tmp_path / "s.json", {"time_unit": "s", "events": events})])
    facts = result["media"]["files"][0]
    assert facts | {"name": "s.json"} == {
        "role": "recording", "name": "s.json", "duration_s": 2.0, "events": 6, "auto_repeats": 1,
        "unmatched_ups": 1, "ignored": 1, "keystrokes": 1, "pastes": 1}
    bare = _run([_write(tmp_path / "bare.json", [{"t": 1500, "type": "down", "key": 9}])])
    assert bare["media"]["duration_s"] == 1.5


def test_empty_log_is_analysed(tmp_path: Path) -> None:
    result = _run([_write(tmp_path / "empty.json", {"events": []})])
    assert result["violations"] == [] and result["media"]["duration_s"] == 0.0
    assert result["media"]["checks"]["typist_change"]["evaluated"] is False


@pytest.mark.parametrize("content, problem", [
    ("\x00\x01 not json", "not a JSON keystroke log"),
    ('{"events": [', "not a JSON keystroke log"),
    ('{"events": 3}', "expected an object with an 'events' list"),
    ('"text"', "expected an object with an 'events' list"),
    ('[1, 2]', "event 0: expected an object"),
    ('{"time_unit": "min", "events": []}', "time_unit must be 'ms' or 's'"),
    ('[{"t": 5, "type": "down", "key": "a"}, {"t": 4, "type": "up", "key": "a"}]', "event 1: t=4 is earlier"),
    ('[{"t": -1, "type": "down", "key": "a"}]', "event 0: negative time"),
    ('[{"t": NaN, "type": "down", "key": "a"}]', "JSON constant NaN is not allowed"),
    ('[{"t": "5", "type": "down", "key": "a"}]', "'t' must be a finite number"),
    ('[{"t": 5, "type": "down"}]', "'key' must be a non-empty string or an integer"),
    ('[{"t": 5, "type": "paste", "chars": -3}]', "a paste needs 'chars'"),
    ('[{"t": 5, "type": 7}]', "'type' must be a string"),
    ('{"duration": 1, "events": [{"t": 5, "type": "down", "key": "a"}]}', "ends before the last event"),
    ("[" * 100_000, "nested too deeply"),
])
def test_malformed_log_gives_a_clear_error_result(tmp_path: Path, content: str, problem: str) -> None:
    result = _run([_write(tmp_path / "bad.json", content)])
    assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE and result["score"] == 0.0
    assert result["msg"].startswith("bad.json: ") and problem in result["msg"], result["msg"]


def test_huge_log_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(65 * 1024 * 1024)  # sparse: takes no disk space
    result = _run([huge])
    assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE
    assert "huge.json: 68157440 bytes is more than max_log_bytes (67108864)" == result["msg"]
    small = _write(tmp_path / "small.json", {"events": [{"t": 1, "type": "down", "key": "k"}] * 40})
    assert "more than max_log_bytes (100)" in _run([small], max_log_bytes=100)["msg"]


@pytest.mark.parametrize("options, problem", [
    ({"idle_min_s": -1}, "option idle_min_s must be a number > 0"),
    ({"paste_min_chars": True}, "option paste_min_chars must be an integer > 0"),
    ({"typist_memory_keys": 2.5}, "option typist_memory_keys must be an integer > 0"),
    ({"typist_evidence": 0}, "option typist_evidence must be a number > 0"),
    ({"checks": ["idle", "gaze"]}, "option checks must be a list drawn from"),
    ({"idle_include_edges": "yes"}, "option idle_include_edges must be true or false"),
    ({"enrolment_recording": "missing.json"}, "enrolment_recording 'missing.json' is not among"),
])
def test_bad_options_give_a_bad_submission_result(tmp_path: Path, options: dict, problem: str) -> None:
    log = _write(tmp_path / "s.json", {"events": []})
    result = _run([log], **options)
    assert result["error_code"] == ErrorCode.BAD_SUBMISSION and problem in result["msg"], result["msg"]


def test_recordings_must_be_one_log_and_at_most_one_enrolment(tmp_path: Path) -> None:
    a, b = _write(tmp_path / "a.json", {"events": []}), _write(tmp_path / "b.json", {"events": []})
    result = _run([a, b])
    assert result["error_code"] == ErrorCode.BAD_SUBMISSION
    assert "expected one keystroke log and at most one enrolment log" in result["msg"]
    named = _run([a, b], enrolment_recording="b.json")
    assert named["error_code"] == ErrorCode.OK and [f["role"] for f in named["media"]["files"]] == [
        "recording", "enrolment"]
    missing, _ = keystrokes.process({"session_id": "s", "recordings": []})
    assert missing["error_code"] == ErrorCode.BAD_SUBMISSION


def test_unreadable_enrolment_is_named(tmp_path: Path) -> None:
    log = _write(tmp_path / "s.json", {"events": []})
    bad = _write(tmp_path / "s.enrolment.json", "nope")
    result = _run([log, bad])
    assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE and result["msg"].startswith("s.enrolment.json: ")


def test_labelled_set_meets_the_issue_targets(tmp_path: Path) -> None:
    samples = sim.generate(tmp_path, seed=0)
    assert len({s.name for s in samples}) == len(samples) == 27
    pairs = []
    for sample in samples:
        result, _ = keystrokes.process(handler_input(sample, tmp_path / "work"))
        assert validate_result(result) == [] and result["error_code"] == 0
        pairs.append((sample, result["violations"]))
    for check, metrics in evaluation.evaluate(pairs).items():
        assert metrics["precision"] >= 0.95 and metrics["recall"] >= 0.95, (check, metrics)


def test_generator_is_deterministic_and_make_long_is_long(tmp_path: Path) -> None:
    first = sim.generate(tmp_path / "a", seed=1)[:4]
    again = sim.generate(tmp_path / "b", seed=1)[:4]
    for x, y in zip(first, again):
        assert x.truth == y.truth
        assert [p.read_bytes() for p in x.recordings] == [p.read_bytes() for p in y.recordings]
    long = sim.make_long(tmp_path, 6.0, seed=0)
    assert _run([long])["media"]["duration_s"] == pytest.approx(360.0, abs=1.0)


def test_speed_bench_functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # as bench/speed.py runs it: beside _common.py
    spec = importlib.util.spec_from_file_location("speed_keystrokes", ROOT / "bench" / "speed_keystrokes.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    log = sim.make_long(tmp_path, 3.0, seed=0)
    decoded = bench.decode_only(log)
    assert decoded["keystrokes"] > 300 and decoded["events"] >= 2 * decoded["keystrokes"]
    assert bench.pipeline(log)["error_code"] == 0
    quick = bench.naive(log, budget_s=0.0)
    assert quick["extrapolated"] and quick["seconds_per_media_second"] > 0
    assert os.path.exists(log)


def test_held_key_repeats_and_unmatched_releases_are_not_idle(tmp_path: Path) -> None:
    repeats = [{"t": 1000 + 33 * i, "type": "down", "key": "Backspace"} for i in range(1213)]
    held = _write(tmp_path / "held.json", {"events": [
        *repeats, {"t": 41_100, "type": "up", "key": "Backspace"},
        {"t": 75_100, "type": "down", "key": "a"}, {"t": 75_200, "type": "up", "key": "a"}]})
    result = _run([held])
    assert result["media"]["files"][0]["auto_repeats"] == 1212
    assert [(v["start_s"], v["end_s"]) for v in _of(result, "idle")] == [(41.1, 75.1)]
    lost = _write(tmp_path / "lost.json", {"events": [
        {"t": 1000, "type": "down", "key": "a"}, {"t": 1100, "type": "up", "key": "a"},
        {"t": 35_000, "type": "up", "key": "Meta"},  # the Cmd+Tab back: its press went to another app
        {"t": 69_000, "type": "down", "key": "b"}, {"t": 69_100, "type": "up", "key": "b"}]})
    result = _run([lost])
    assert result["media"]["files"][0]["unmatched_ups"] == 1
    assert [(v["start_s"], v["end_s"]) for v in _of(result, "idle")] == [(1.1, 35.0), (35.0, 69.0)]


def test_scripts_and_key_mashing_are_never_scored_as_a_typist(tmp_path: Path) -> None:
    plan = [("type", 0, 20.0), ("bot", "constant", 40.0), ("type", 0, 90.0)]
    logs, _ = _session(tmp_path, plan, 90.0, enrolled=True)
    assert _of(_run(logs, checks=["typist_change"]), "typist_change") == []  # not asked for, still left out
    doc = json.loads(logs[0].read_text())
    keys = [sim.key_code(c) for c in "etaoinshr"]
    mash = [{"t": 60_000 + 3 * i + h, "type": kind, "key": keys[i % 9]}
            for i in range(96) for h, kind in ((0, "down"), (1, "up"))]  # a hand on the keys for 0.3 s
    doc["events"] = sorted(doc["events"] + mash, key=lambda e: e["t"])
    _write(logs[0], doc)
    result = _run(logs, typist_evidence=20.0)  # a hair trigger: only unscored keys stay quiet
    assert [round(v["start_s"]) for v in _of(result, "automation")] == [20]  # the script; the mash is too short
    assert all(not (v["start_s"] <= 60.0 <= v["end_s"]) for v in _of(result, "typist_change"))
