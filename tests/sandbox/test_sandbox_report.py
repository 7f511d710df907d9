"""The status page links each schema-valid stored result to its report at /report/<n>."""

from __future__ import annotations

import json
import re

from ml_service.core.results import build_result

EVIL = '<script>alert("x")</script>'


def _answer(sandbox, xq, queue, session_id, result):
    sandbox.submit_session(queue, {"session_id": session_id}, {})
    pulled = xq.pull_decoded(queue)
    reply = {"correct": True, "score": result.get("score", 0), "msg": "", "result": result}
    assert xq.put_result(pulled["header_text"], json.dumps(reply)) == (0, "")


def test_status_page_links_stored_results_to_reports(sandbox, xq, http):
    violation = {"type": "face_absent", "start_s": 2.0, "end_s": 5.0, "confidence": 0.8,
                 "details": {"note": EVIL}}
    _answer(sandbox, xq, "webcam", "exam-1", {"modality": "webcam", "error_code": 0})  # not the schema
    _answer(sandbox, xq, "webcam", "exam-2", build_result("webcam", [violation], {"duration_s": 10.0}, 0.5))
    page = http.get(f"{sandbox.platform_url}/").text
    assert re.findall(r'href="([^"]*)"', page) == ["/report/2"]

    resp = http.get(f"{sandbox.platform_url}/report/2")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert "img-src data:" in resp.headers["Content-Security-Policy"]
    text = resp.text
    assert "exam-2" in text and 'id="v-webcam-0"' in text and '<svg class="timeline"' in text
    assert EVIL not in text and "&lt;script&gt;" in text
    assert "://" not in text and "<img" not in text  # no media kept: no thumbnail

    assert http.get(f"{sandbox.platform_url}/report/1").status_code == 404
    assert http.get(f"{sandbox.platform_url}/report/3").status_code == 404
    assert http.get(f"{sandbox.platform_url}/report/0").status_code == 404
