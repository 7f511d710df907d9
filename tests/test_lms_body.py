"""Where the session description sits: our object, openedx/xqueue's or edx-submissions' LMS envelope."""

from __future__ import annotations

import json

import pytest

from ml_service.core.errors import SubmissionError
from ml_service.core.lms_body import find_description
from ml_service.core.submission import Pulled, parse_body

DESC = {"session_id": "exam-1", "options": {"x": 1}}


def envelope(payload, response, info='{"anonymous_student_id": "a"}'):
    return {"grader_payload": payload, "student_info": info, "student_response": response}


def test_our_object_is_used_as_it_is():
    assert find_description(DESC) == (DESC, None)


def test_legacy_convention_description_in_grader_payload():
    assert find_description(envelope(json.dumps(DESC), "")) == (DESC, None)


def test_edx_submissions_description_in_student_response_text_or_object():
    body = envelope(json.dumps({"grader": "webcam"}), json.dumps(DESC))
    assert find_description(body) == (DESC, "webcam")
    assert find_description(envelope({"grader": "webcam"}, DESC)) == (DESC, "webcam")


def test_problem_settings_in_grader_payload_merge_under_the_session():
    payload = {"grader": "webcam", "options": {"face_absent_min_s": 5}, "modality": "webcam"}
    response = {"session_id": "exam-2", "recordings": ["cam.webm"]}
    merged, grader = find_description(envelope(json.dumps(payload), json.dumps(response)))
    assert grader == "webcam"
    assert merged == {"options": {"face_absent_min_s": 5}, "modality": "webcam", "session_id": "exam-2",
                      "recordings": ["cam.webm"]}


@pytest.mark.parametrize("payload, response, parts", [
    ('{"grader": "webcam"}', "", ["grader_payload has no session_id", "student_response is empty"]),
    ('{"grader": "webcam"}', "plain words", ["student_response is not JSON ('plain words')"]),
    ("not json either", "[1, 2]", ["grader_payload is not JSON", "student_response is JSON but not an object"]),
    (None, None, ["grader_payload is empty", "student_response is empty"]),
])
def test_no_description_in_either_place_says_what_each_held(payload, response, parts):
    with pytest.raises(SubmissionError) as info:
        find_description(envelope(payload, response))
    message = str(info.value)
    assert message.startswith("xqueue_body holds no session description")
    assert all(part in message for part in parts), message


def test_excerpts_are_short_and_printable():
    with pytest.raises(SubmissionError) as info:
        find_description(envelope("", "x\x00" * 500))
    assert len(str(info.value)) < 300 and "\x00" not in str(info.value)


def test_grader_names_the_modality_when_the_description_does_not():
    pulled = Pulled(header="{}", submission_id=1, submission_key="k", files={"cam.webm": "http://h/c"},
                    body=json.dumps(envelope('{"grader": "webcam"}', '{"session_id": "s"}')))
    spec = parse_body(pulled)
    assert (spec.modality, spec.grader, spec.recordings) == ("webcam", "webcam", ["cam.webm"])
    path_grader = envelope('{"grader": "ps1/grade.py"}', '{"session_id": "s"}')
    spec = parse_body(Pulled(header="{}", submission_id=1, submission_key="k", body=json.dumps(path_grader)))
    assert (spec.modality, spec.grader) == (None, "ps1/grade.py")
