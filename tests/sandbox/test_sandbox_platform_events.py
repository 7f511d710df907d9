"""Status events: validation, storage, the services table and its alive/stale/stopped view."""

from __future__ import annotations

import copy

import pytest

SERVICE = {"name": "webcam-worker", "queue": "webcam", "version": "0.1.0", "host": "node-1"}


def _event(event_type="heartbeat", data=None, service=None, **extra):
    body = {"timestamp": "2026-11-23T10:00:00.123Z", "event_type": event_type, "data": data or {},
            "attempt": 1, "service": service or SERVICE}
    body.update(extra)
    return body


@pytest.fixture
def post(sandbox, http, token):
    def send(body, expect=200):
        resp = http.post(f"{sandbox.platform_url}/ml/events", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert resp.status_code == expect, resp.text
        return resp.json()

    return send


def test_event_is_stored(sandbox, post):
    assert post(_event("service_started", {"pid": 42})) == {"ok": True}
    [event] = sandbox.events()
    assert event["event_type"] == "service_started" and event["data"] == {"pid": 42}
    assert event["client_id"] == "webcam-1" and event["service"] == SERVICE
    assert event["timestamp"] == "2026-11-23T10:00:00.123Z" and event["attempt"] == 1


def test_service_row_tracks_version_heartbeat_and_session(sandbox, post, clock):
    post(_event("service_started"))
    [svc] = sandbox.services()
    assert svc["alive"] and svc["status"] == "alive" and svc["last_heartbeat"] is None
    clock.advance(10)
    post(_event("heartbeat"))
    post(_event("session_processing_start", {"submission_id": 7, "session_id": "exam42-s7"}))
    [svc] = sandbox.services()
    assert svc["current_session"] == "exam42-s7" and svc["last_event"] == "session_processing_start"
    assert svc["last_heartbeat"] is not None
    post(_event("session_processing_end", {"submission_id": 7}, service={**SERVICE, "version": "0.2.0"}))
    [svc] = sandbox.services()
    assert svc["current_session"] is None and svc["version"] == "0.2.0"


def test_session_without_session_id_shows_the_submission(sandbox, post):
    post(_event("session_processing_start", {"submission_id": 7, "queue": "webcam"}))
    assert sandbox.services()[0]["current_session"] == "submission 7"
    post(_event("session_processing_failed", {"submission_id": 7}))
    assert sandbox.services()[0]["current_session"] is None


def test_services_are_keyed_by_name_host_and_queue(sandbox, post):
    post(_event())
    post(_event(service={**SERVICE, "host": "node-2"}))
    post(_event(service={**SERVICE, "queue": "audio"}))
    post(_event())
    assert len(sandbox.services()) == 3
    assert len(sandbox.events()) == 4


def test_service_goes_stale_without_events(sandbox, post, clock):
    post(_event())
    clock.advance(89)
    assert sandbox.services()[0]["status"] == "alive"
    clock.advance(1)
    [svc] = sandbox.services()
    assert svc["status"] == "stale" and svc["alive"] is False
    post(_event())
    assert sandbox.services()[0]["alive"] is True


def test_stopping_service_is_not_alive(sandbox, post):
    post(_event("service_stopping"))
    [svc] = sandbox.services()
    assert svc["stopped"] is True and svc["alive"] is False and svc["status"] == "stopped"
    post(_event("service_started"))
    assert sandbox.services()[0]["status"] == "alive"


def test_api_lists_services_and_events(sandbox, post, http):
    post(_event())
    services = http.get(f"{sandbox.platform_url}/api/services").json()
    assert [s["name"] for s in services] == ["webcam-worker"] and services[0]["alive"] is True
    events = http.get(f"{sandbox.platform_url}/api/events").json()
    assert [e["event_type"] for e in events] == ["heartbeat"]


def _without(key):
    body = _event()
    del body[key]
    return body


def _service_without(key):
    body = copy.deepcopy(_event())
    del body["service"][key]
    return body


@pytest.mark.parametrize("body, reason", [
    (["not", "an", "object"], "body must be a JSON object"),
    (_event("started"), "event_type must be one of"),
    (_without("event_type"), "event_type must be one of"),
    (_without("timestamp"), "timestamp"),
    (_event(timestamp="yesterday"), "timestamp"),
    (_event(timestamp=12345), "timestamp"),
    (_without("data"), "data must be a JSON object"),
    (_event(data=None) | {"data": "text"}, "data must be a JSON object"),
    (_without("attempt"), "attempt"),
    (_event(attempt=0), "attempt"),
    (_event(attempt=True), "attempt"),
    (_event(attempt="1"), "attempt"),
    (_without("service"), "service must be an object"),
    (_service_without("host"), "service.host"),
    (_event(service={**SERVICE, "name": ""}), "service.name"),
    (_event(service={**SERVICE, "version": 1}), "service.version"),
    (_event(token="abc"), "Authorization header"),
])
def test_bad_event_body_is_400_with_a_reason(sandbox, post, body, reason):
    reply = post(body, expect=400)
    assert reply["error"] == "invalid_event" and reason in reply["reason"]
    assert sandbox.events() == [] and sandbox.services() == []


def test_non_json_body_is_400(sandbox, http, token):
    resp = http.post(f"{sandbox.platform_url}/ml/events", data="nope",
                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400


def test_events_need_a_token_even_when_valid(sandbox, http):
    assert http.post(f"{sandbox.platform_url}/ml/events", json=_event()).status_code == 401
    assert sandbox.events() == []
