"""Property-based tests: parsing never fails in an unplanned way; built results always validate."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_service.core.errors import ProtocolError, SubmissionError
from ml_service.core.results import build_result, validate_result, xqueue_reply
from ml_service.core.submission import Pulled, decode_pull, parse_body

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["xqueue_header", "xqueue_body", "xqueue_files", "session_id", "submission_id",
                        "submission_key", "grader_payload", "recordings", "options", "modality"])
SHAPED = st.dictionaries(KEYS, JSON | st.text(max_size=30).map(json.dumps) | JSON.map(json.dumps), max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, SHAPED, SHAPED.map(json.dumps), st.text(max_size=50)))
def test_decode_pull_returns_or_raises_protocol_error_only(content):
    try:
        pulled = decode_pull(content)
    except ProtocolError:
        return
    assert isinstance(pulled.submission_id, int) and pulled.submission_id >= 0
    assert isinstance(pulled.files, dict)


def _pulled(body: str, files: dict[str, str]) -> Pulled:
    return Pulled(header='{"submission_id": 1, "submission_key": "ab"}', submission_id=1,
                  submission_key="ab", body=body, files=files)


@settings(max_examples=300, deadline=None)
@given(st.one_of(SHAPED.map(json.dumps), JSON.map(json.dumps), st.text(max_size=40)),
       st.dictionaries(st.text(min_size=1, max_size=8), st.just("http://x/f"), max_size=3))
def test_parse_body_returns_a_spec_or_raises_submission_error_only(body, files):
    try:
        spec = parse_body(_pulled(body, files))
    except SubmissionError:
        return
    assert isinstance(spec.session_id, str) and spec.session_id
    assert all(name in files for name in spec.recordings)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_validate_result_never_raises(candidate):
    assert isinstance(validate_result(candidate), list)


VIOLATION = st.builds(
    lambda t, a, d, c, note: {"type": t, "start_s": a, "end_s": a + d, "confidence": c, "details": {"note": note}},
    st.sampled_from(["face_absent", "speech", "window_switch", "idle"]),
    st.floats(0, 3600), st.floats(0, 600), st.floats(0, 1), st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(VIOLATION, max_size=12), st.one_of(st.none(), st.floats(0.001, 7200)), st.text(max_size=40))
def test_built_results_always_validate_and_replies_escape_text(violations, duration, msg):
    result = build_result("webcam", violations, {"duration_s": duration}, 1.5)
    assert validate_result(result) == []
    assert 0 <= result["score"] <= 1
    assert all(0 <= s["share"] <= 1 for s in result["stats"].values())
    reply = json.loads(xqueue_reply(result, msg + "<b>"))
    assert "<b>" not in reply["msg"] and reply["result"] == result
