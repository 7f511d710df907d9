"""ml_service.samples.evaluation: event matching and per-check metrics on hand-made intervals."""

from __future__ import annotations

import pytest

from ml_service.samples.evaluation import check_metrics, checks_in, evaluate, interval_iou, match_events, truth_coverage
from ml_service.samples.truth import Sample


def ev(kind: str, start: float, end: float) -> dict:
    return {"type": kind, "start_s": start, "end_s": end}


def sample(truth=(), clean=False, checks=(), duration=60.0, name="s") -> Sample:
    return Sample(name, "audio", [], duration, list(truth), clean=clean, checks=list(checks))


def test_interval_iou_and_coverage():
    assert interval_iou(ev("a", 0, 10), ev("a", 0, 10)) == 1.0
    assert interval_iou(ev("a", 0, 10), ev("a", 5, 15)) == pytest.approx(5 / 15)
    assert interval_iou(ev("a", 0, 1), ev("a", 2, 3)) == 0.0
    assert truth_coverage(ev("a", 0, 10), ev("a", 5, 30)) == 0.5
    assert truth_coverage(ev("a", 4, 4), ev("a", 0, 10)) == 1.0  # a point inside
    assert truth_coverage(ev("a", 4, 4), ev("a", 5, 10)) == 0.0
    assert interval_iou(ev("a", 4, 4), ev("a", 4, 4)) == 1.0  # equal points


def test_exact_match():
    truth = [ev("talk", 2, 4), ev("talk", 10, 12)]
    assert match_events(truth, list(reversed(truth))) == [(0, 1), (1, 0)]


def test_partial_overlap_by_iou_or_by_truth_coverage():
    truth = [ev("talk", 0, 10)]
    assert match_events(truth, [ev("talk", 4, 14)]) == [(0, 0)]  # IoU 6/14 = 0.43
    assert match_events(truth, [ev("talk", 8, 18)]) == []  # IoU 0.11, covers 20 %
    # IoU only 0.2, but the long prediction covers the whole truth event: a match.
    assert match_events([ev("talk", 10, 12)], [ev("talk", 5, 15)]) == [(0, 0)]
    assert match_events(truth, [ev("talk", 4, 14)], min_iou=0.5) == [(0, 0)]  # coverage 60 % still matches
    assert match_events(truth, [ev("talk", 6, 14)], min_iou=0.5) == []  # IoU 0.29, coverage 40 %


def test_wrong_type_never_matches():
    assert match_events([ev("talk", 0, 10)], [ev("noise", 0, 10)]) == []


def test_split_event_matches_once_and_the_rest_is_a_false_positive():
    pairs = [(sample([ev("absent", 0, 10)]), [ev("absent", 0, 4.5), ev("absent", 5.5, 10)])]
    assert match_events(pairs[0][0].truth, pairs[0][1]) == [(0, 0)]
    m = check_metrics(pairs, "absent")
    assert (m["n_matched"], m["precision"], m["recall"]) == (1, 0.5, 1.0)
    assert m["mean_iou"] == pytest.approx(0.45)


def test_merged_events_match_once_and_the_rest_is_missed():
    pairs = [(sample([ev("absent", 0, 4), ev("absent", 6, 10)]), [ev("absent", 0, 10)])]
    m = check_metrics(pairs, "absent")
    assert (m["n_truth"], m["n_pred"], m["n_matched"], m["precision"], m["recall"]) == (2, 1, 1, 1.0, 0.5)
    assert m["mean_iou"] == pytest.approx(0.4)


def test_greedy_takes_the_best_iou_first_one_to_one():
    truth = [ev("talk", 0, 10), ev("talk", 8, 18)]
    assert match_events(truth, [ev("talk", 9, 19)]) == [(1, 0)]
    # Two predictions competing for one truth event: the better one wins.
    assert match_events([ev("talk", 0, 10)], [ev("talk", 0, 6), ev("talk", 0, 9)]) == [(0, 1)]


def test_false_alarms_per_clean_hour():
    clean = sample(clean=True, duration=1800.0, name="clean")
    labelled = sample([ev("talk", 0, 5)], checks=["talk"], name="talk")
    pairs = [(clean, [ev("talk", 1, 2), ev("talk", 5, 6), ev("talk", 9, 9.5), ev("noise", 1, 2)]),
             (labelled, [ev("talk", 0, 5)])]
    m = check_metrics(pairs, "talk")
    assert m["clean_hours"] == 0.5
    assert m["false_alarms_per_clean_hour"] == 6.0
    assert (m["n_truth"], m["n_pred"], m["n_matched"], m["n_samples"]) == (1, 4, 1, 2)
    assert m["precision"] == 0.25 and m["recall"] == 1.0 and m["mean_iou"] == 1.0
    assert check_metrics(pairs, "noise")["false_alarms_per_clean_hour"] == 2.0


def test_empty_cases():
    nothing = check_metrics([(sample(clean=True), [])], "talk")
    assert (nothing["precision"], nothing["recall"], nothing["mean_iou"]) == (1.0, 1.0, None)
    assert nothing["false_alarms_per_clean_hour"] == 0.0
    silent = check_metrics([(sample([ev("talk", 0, 1)]), [])], "talk")
    assert (silent["precision"], silent["recall"], silent["false_alarms_per_clean_hour"]) == (0.0, 0.0, None)
    trigger_happy = check_metrics([(sample(checks=["talk"]), [ev("talk", 0, 1)])], "talk")
    assert (trigger_happy["precision"], trigger_happy["recall"]) == (0.0, 0.0)
    assert check_metrics([], "talk")["n_samples"] == 0
    assert match_events([], []) == [] and match_events([ev("a", 0, 1)], []) == []


def test_samples_out_of_scope_for_a_check_are_ignored():
    other = sample([ev("noise", 0, 5)], checks=["noise"], name="noise-only")
    m = check_metrics([(other, [ev("talk", 0, 5)])], "talk")
    assert (m["n_samples"], m["n_pred"], m["precision"]) == (0, 0, 1.0)


def test_evaluate_reports_every_check_named_anywhere():
    pairs = [(sample([ev("talk", 0, 5)], checks=["gaze"]), [ev("noise", 1, 2)])]
    assert checks_in(pairs) == ["gaze", "noise", "talk"]
    result = evaluate(pairs)
    assert sorted(result) == ["gaze", "noise", "talk"]
    assert result["talk"]["recall"] == 0.0
    # The sample does not exercise "noise" and there is no clean sample: nothing to judge it on.
    assert (result["noise"]["n_samples"], result["noise"]["n_pred"]) == (0, 0)
