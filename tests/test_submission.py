"""Decoding get_submission content (three JSON layers) and reading our submission body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ml_service.core.errors import ProtocolError, SubmissionError, UnanswerableError
from ml_service.core.submission import Pulled, SessionSpec, decode_pull, parse_body

KEY = "0123456789abcdef0123456789ABCDEF"
HEADER = {"submission_id": 5, "submission_key": KEY}

FILES = {
    "photo.jpg": "http://xqueue.example/media/photo.jpg",
    "enrol.wav": "http://xqueue.example/media/enrol.wav",
    "webcam.webm": "http://xqueue.example/media/webcam.webm",
    "screen.webm": "http://platform.example/media/screen.webm",
}

BODY = {
    "session_id": "exam42-student7",
    "modality": "webcam",
    "options": {"face_absent_min_s": 5},
    "reference_photo": "photo.jpg",
    "reference_voice": "enrol.wav",
    "recordings": ["webcam.webm"],
    "student_id": "anon-7f3a",
    "exam_id": "exam42",
}

_MISSING = object()


def wire_content(header: Any = HEADER, body: Any = BODY, files: Any = FILES, header_text: str | None = None) -> str:
    """What XQueueClient hands to decode_pull: ``content`` of the get_submission envelope.

    Layer 1: header, body and files each json.dumps'd; layer 2: the object holding them;
    layer 3: the ``{return_code, content}`` envelope on the wire (decoded here as the client does).
    """
    inner: dict[str, Any] = {
        "xqueue_header": header_text if header_text is not None else json.dumps(header),
        "xqueue_body": json.dumps(body),
    }
    if files is not _MISSING:
        inner["xqueue_files"] = files if isinstance(files, str) else json.dumps(files)
    wire = json.dumps({"return_code": 0, "content": json.dumps(inner)})
    return json.loads(wire)["content"]


def pulled(body: Any = BODY, files: dict[str, str] | None = None, files_problem: str | None = None) -> Pulled:
    return Pulled(
        header=json.dumps(HEADER),
        submission_id=5,
        submission_key=KEY,
        body=body if isinstance(body, str) else json.dumps(body),
        files=dict(FILES) if files is None else files,
        files_problem=files_problem,
    )


# --- decode_pull ---------------------------------------------------------------------------


def test_decode_real_three_layer_content():
    content = wire_content()
    assert isinstance(content, str)
    p = decode_pull(content)
    assert p.submission_id == 5
    assert p.submission_key == KEY
    assert p.header == json.dumps(HEADER)
    assert json.loads(p.body) == BODY
    assert p.files == FILES
    assert p.files_problem is None


def test_header_string_kept_byte_for_byte():
    odd = '{ "submission_key":"%s" ,\n  "submission_id" : 5, "extra": "é\\u00e9" }' % KEY
    p = decode_pull(wire_content(header_text=odd))
    assert p.header == odd
    assert (p.submission_id, p.submission_key) == (5, KEY)


def test_body_string_kept_as_sent():
    raw_body = '{"session_id":  "s1"}'
    content = json.dumps({"xqueue_header": json.dumps(HEADER), "xqueue_body": raw_body, "xqueue_files": "{}"})
    assert decode_pull(content).body == raw_body


def test_content_already_a_dict_is_accepted():
    inner = json.loads(wire_content())
    p = decode_pull(inner)
    assert (p.submission_id, p.submission_key, p.files) == (5, KEY, FILES)


def test_submission_id_as_digit_string_is_accepted():
    p = decode_pull(wire_content(header={"submission_id": "17", "submission_key": KEY}))
    assert p.submission_id == 17 and isinstance(p.submission_id, int)


@pytest.mark.parametrize("content, needle", [
    ("not json{", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
    (42, "not a JSON object"),
    (None, "not a JSON object"),
    (json.dumps({"xqueue_body": "{}", "xqueue_files": "{}"}), "xqueue_header"),
    (json.dumps({"xqueue_header": HEADER, "xqueue_body": "{}"}), "xqueue_header"),
    (json.dumps({"xqueue_header": "{not json", "xqueue_body": "{}"}), "xqueue_header is not valid JSON"),
    (json.dumps({"xqueue_header": "[5]", "xqueue_body": "{}"}), "xqueue_header is not a JSON object"),
])
def test_malformed_envelope_is_a_protocol_error(content, needle):
    with pytest.raises(ProtocolError) as info:
        decode_pull(content)
    assert needle in str(info.value)


@pytest.mark.parametrize("sub_id", [True, False, "abc", "5a", "", "-5", -5, 5.0, None, [5]])
def test_bad_submission_id_is_a_protocol_error(sub_id):
    with pytest.raises(ProtocolError) as info:
        decode_pull(wire_content(header={"submission_id": sub_id, "submission_key": KEY}))
    assert "submission_id" in str(info.value)


def test_missing_submission_id_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        decode_pull(wire_content(header={"submission_key": KEY}))


def test_non_decimal_digit_string_id_is_a_protocol_error():
    # "²".isdigit() is True but int("²") raises ValueError: must still be a ProtocolError.
    with pytest.raises(ProtocolError):
        decode_pull(wire_content(header={"submission_id": "\u00b2", "submission_key": KEY}))


@pytest.mark.parametrize("key", ["xyz", "0123-4567", "abc def", "a5d571fd-0d2d-42fe-b32b-b52babaee6a4", "a" * 129])
def test_submission_keys_are_opaque(key):
    p = decode_pull(wire_content(header={"submission_id": 5, "submission_key": key}))
    assert p.submission_key == key


@pytest.mark.parametrize("key, kind", [(None, "NoneType"), (12345, "int"), ("", "str"), ("k" * 1025, "str of 1025")])
def test_a_key_that_cannot_address_an_answer_makes_the_pull_unanswerable(key, kind):
    with pytest.raises(UnanswerableError, match=f"no usable submission_key \\(got {kind}"):
        decode_pull(wire_content(header={"submission_id": 5, "submission_key": key}))


def test_a_missing_key_is_reported_without_echoing_the_header():
    with pytest.raises(UnanswerableError) as caught:
        decode_pull(wire_content(header={"submission_id": 5, "secret_ish": "not-for-logs"}))
    assert "not-for-logs" not in str(caught.value)


@pytest.mark.parametrize("files", [{}, "null", _MISSING])
def test_no_files_means_empty_files_and_no_problem(files):
    p = decode_pull(wire_content(files=files))
    assert p.files == {} and p.files_problem is None


def test_empty_string_files_means_no_files():
    # The code means an empty xqueue_files to be "no files" (``files in (None, "")``),
    # but json.loads("") fails first, so a raw empty string is reported as invalid JSON.
    p = decode_pull(wire_content(files=""))
    assert p.files == {} and p.files_problem is None


@pytest.mark.parametrize("files, needle", [
    ("not json", "not valid JSON"),
    ("{'single': 'quotes'}", "not valid JSON"),
    (json.dumps(["webcam.webm"]), "filename -> URL"),
    (json.dumps({"webcam.webm": 5}), "filename -> URL"),
    (json.dumps({"webcam.webm": None}), "filename -> URL"),
    (json.dumps({"webcam.webm": {"url": "http://x"}}), "filename -> URL"),
    (json.dumps("a string"), "filename -> URL"),
])
def test_bad_files_are_reported_not_raised(files, needle):
    p = decode_pull(wire_content(files=files))
    assert p.files == {}
    assert p.files_problem is not None and needle in p.files_problem
    assert p.submission_id == 5  # still addressable, so it can be answered


def test_files_already_a_dict_are_accepted():
    inner = {"xqueue_header": json.dumps(HEADER), "xqueue_body": "{}", "xqueue_files": FILES}
    assert decode_pull(inner).files == FILES


# --- parse_body ----------------------------------------------------------------------------


def test_parse_body_happy_path():
    spec = parse_body(pulled())
    assert spec == SessionSpec(
        session_id="exam42-student7",
        modality="webcam",
        options={"face_absent_min_s": 5},
        reference_photo="photo.jpg",
        reference_voice="enrol.wav",
        recordings=["webcam.webm"],
    )


def test_parse_body_from_decoded_pull():
    spec = parse_body(decode_pull(wire_content()))
    assert spec.session_id == "exam42-student7" and spec.recordings == ["webcam.webm"]


def test_minimal_body_gets_defaults():
    spec = parse_body(pulled({"session_id": "s1"}, files={}))
    assert spec == SessionSpec("s1", None, {}, None, None, [])


def test_recordings_default_to_every_non_reference_file():
    body = {k: v for k, v in BODY.items() if k != "recordings"}
    spec = parse_body(pulled(body))
    assert spec.recordings == ["screen.webm", "webcam.webm"]


def test_recordings_default_without_references_is_every_file():
    spec = parse_body(pulled({"session_id": "s1"}))
    assert spec.recordings == sorted(FILES)


@pytest.mark.parametrize("as_string", [True, False])
def test_lms_wrapped_grader_payload(as_string):
    lms_body = {
        "student_info": json.dumps({"anonymous_student_id": "anon-7f3a", "submission_time": "20261123100000"}),
        "grader_payload": json.dumps(BODY) if as_string else BODY,
        "student_response": "",
    }
    spec = parse_body(pulled(lms_body))
    assert spec.session_id == "exam42-student7"
    assert spec.reference_photo == "photo.jpg" and spec.recordings == ["webcam.webm"]


def test_lms_grader_payload_free_text_is_a_submission_error():
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled({"grader_payload": "grade this please", "student_response": ""}))
    assert "grader_payload" in str(info.value)


def test_missing_session_id():
    body = {k: v for k, v in BODY.items() if k != "session_id"}
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled(body))
    assert "'session_id' is a required property" in str(info.value)


@pytest.mark.parametrize("field, value", [
    ("session_id", 42),
    ("session_id", ""),
    ("recordings", "webcam.webm"),
    ("recordings", [1, 2]),
    ("options", ["face_absent_min_s"]),
    ("modality", "Web Cam"),
    ("reference_photo", {"name": "photo.jpg"}),
])
def test_wrong_types_name_the_field(field, value):
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled({**BODY, field: value}))
    assert field in str(info.value)
    assert "submission schema" in str(info.value)


@pytest.mark.parametrize("raw", ["not json", "{'session_id': 's1'}", ""])
def test_body_not_json(raw):
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled(raw))
    assert "not valid JSON" in str(info.value)


@pytest.mark.parametrize("raw", ["[]", '"s1"', "null", "5"])
def test_body_json_but_not_an_object(raw):
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled(raw))
    assert "not of type 'object'" in str(info.value)


@pytest.mark.parametrize("field, name", [
    ("recordings", ["webcam.webm", "ghost.webm"]),
    ("reference_photo", "ghost.jpg"),
    ("reference_voice", "ghost.wav"),
])
def test_body_naming_an_absent_file(field, name):
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled({**BODY, field: name}))
    missing = "ghost.webm" if field == "recordings" else name
    assert "xqueue_files lacks" in str(info.value) and missing in str(info.value)


def test_files_problem_is_raised_by_parse_body():
    with pytest.raises(SubmissionError) as info:
        parse_body(pulled(files={}, files_problem="xqueue_files is not valid JSON"))
    assert str(info.value) == "xqueue_files is not valid JSON"


def test_bad_files_from_decode_become_a_submission_error_at_parse():
    p = decode_pull(wire_content(files="not json"))
    with pytest.raises(SubmissionError, match="xqueue_files"):
        parse_body(p)
