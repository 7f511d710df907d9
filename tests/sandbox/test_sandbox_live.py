"""Live sessions on the platform stand-in: alerts kept once per id, and the status page's view."""

from __future__ import annotations

from ml_service.sandbox.live_view import live_sessions
from ml_service.sandbox.page import render_status_page

SERVICE = {"name": "webcam-worker", "queue": "webcam", "version": "0.1.0", "host": "node-1"}


def _alert(alert_id: str, start: float, segment: int = 0) -> dict:
    return {"timestamp": "2026-11-23T10:00:00.123Z", "event_type": "violation_detected", "attempt": 1,
            "service": SERVICE,
            "data": {"session_id": "exam-7", "modality": "webcam", "alert_id": alert_id, "type": "face_absent",
                     "start_s": start, "end_s": start + 5, "confidence": 0.9, "open": False,
                     "evidence": {"segment_index": segment, "submission_id": 3, "recording": "s.webm",
                                  "from_s": 1.0, "to_s": 6.0}}}


def test_alerts_are_kept_once_per_id_and_copies_are_counted(sandbox, http, token):
    for body in (_alert("a" * 20, 61), _alert("b" * 20, 130, 2), _alert("a" * 20, 61)):
        resp = http.post(f"{sandbox.platform_url}/ml/events", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert resp.status_code == 200, resp.text
    kept = sandbox.alerts()
    assert [(a["alert_id"][0], a["copies"]) for a in kept] == [("a", 2), ("b", 1)]
    assert http.get(f"{sandbox.platform_url}/api/alerts", timeout=30).json() == kept
    assert len([e for e in sandbox.events() if e["event_type"] == "violation_detected"]) == 3
    page = http.get(f"{sandbox.platform_url}/", timeout=30).text
    assert "Alerts (2 latest)" in page and "1:01&ndash;1:06" in page and "exam-7" in page


def _answer(index: int, final: bool = False, gaps: list | None = None) -> dict:
    live = {"session_id": "exam-7", "index": index, "final": final, "gaps": gaps or []}
    return {"session_id": "exam-7", "received": f"2026-11-23T10:0{index}:00.000Z",
            "body": {"result": {"modality": "webcam", "violations": [{}] * index, "score": 0.9, "live": live}}}


def test_live_sessions_list_segments_alerts_and_the_final_result():
    results = [_answer(0), _answer(1), _answer(3), {"session_id": "whole", "received": "x", "body": {"result": {}}}]
    alerts = [{**_alert("a" * 20, 1)["data"], "received": "2026-11-23T10:09:00.000Z"}]
    [row] = live_sessions(results, alerts)
    assert row == {"session_id": "exam-7", "modality": "webcam", "segments": "0-1, 3", "final": None,
                   "alerts": 1, "latest": "2026-11-23T10:09:00.000Z"}
    [row] = live_sessions([*results, _answer(4, final=True, gaps=[{"index": 2}])], alerts)
    assert row["segments"] == "0-1, 3-4" and row["final"] == {"violations": 4, "gaps": 1, "score": 0.9}
    page = render_status_page([], [*results, _answer(4, final=True, gaps=[{"index": 2}])], {}, ("x", "y"),
                              alerts=alerts)
    assert "Live sessions (1)" in page and "0-1, 3-4" in page and "1 gap(s)" in page and "face_absent" in page
