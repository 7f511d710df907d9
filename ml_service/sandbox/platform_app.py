"""The platform stand-in web app: token, status events, media, sessions, results, page.

Routes (``docs/contracts.md`` §4 for the first two)::

    POST /ml/auth/token              client credentials (JSON or form) -> HS256 JWT
    POST /ml/events                  Bearer JWT + status event -> {"ok": true}
    GET  /media/<path>               submitted files (the active flavour's store), a plain GET with no cookie
    POST /api/sessions               queue + body + files -> submitted to the XQueue (edx-submissions
                                     flavour: created in process, as the LMS does; optional fields
                                     grader, points_possible, student_id)
    POST /xqueue/callback/<token>    XQueue's LMS callback -> results store
    GET  /api/results | /api/services | /api/events | /api/alerts (live alerts, one per alert_id)
    GET  /api/queues                 per queue: waiting, pulled, answered (the active flavour's store)
    GET  /report/<n>                 the report of the n-th stored result (1 = oldest)
    GET  /                           HTML status page (reloads itself: HTTP Refresh header)
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import NotFound

from ml_service.core.errors import SubmissionError
from ml_service.core.lms_body import find_description
from ml_service.sandbox.events import EventError, parse_event
from ml_service.sandbox.page import REFRESH_S, render_status_page, stored_report
from ml_service.sandbox.queue_store import Refused
from ml_service.sandbox.state import SandboxState
from ml_service.sandbox.tokens import TokenError

__all__ = ["create_platform_app"]

logger = logging.getLogger(__name__)

bp = Blueprint("platform", __name__)
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def create_platform_app(state: SandboxState) -> Flask:
    """A Flask app serving the platform stand-in over ``state``."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_FORM_MEMORY_SIZE"] = 2_621_440
    app.extensions["sandbox"] = state
    app.register_blueprint(bp)
    return app


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _error(status: int, error: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=error, **extra), status


@bp.post("/ml/auth/token")
def issue_token() -> Any:
    source = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    source = source if isinstance(source, dict) else {}
    client_id, secret = source.get("client_id"), source.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id:
        return _error(400, "invalid_request", error_description="client_id and client_secret")
    if not _state().platform.check_client(client_id, secret):
        logger.info("token refused for client %r", client_id)
        return _error(401, "invalid_client")
    ttl = _state().tokens.ttl_s
    resp = jsonify(access_token=_state().tokens.issue(client_id), token_type="Bearer",
                   expires_in=int(ttl) if float(ttl).is_integer() else ttl)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _bearer_client() -> str:
    """The client id of the request's valid bearer token, else :class:`TokenError`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    client_id = _state().tokens.verify(token.strip())
    if not _state().platform.has_client(client_id):
        raise TokenError("unknown client")
    return client_id


@bp.post("/ml/events")
def post_event() -> Any:
    try:
        client_id = _bearer_client()
    except TokenError as exc:
        resp, status = _error(401, str(exc))
        resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp, status
    body = request.get_json(force=True, silent=True)
    try:
        event = parse_event(body)
    except EventError as exc:
        return _error(400, "invalid_event", reason=str(exc))
    _state().platform.record_event(client_id, event)
    logger.debug("event %s from %s", event.event_type, event.service["name"])
    return jsonify(ok=True)


@bp.get("/media/<path:relpath>")
def media(relpath: str) -> Response:
    if any(part.startswith(".") for part in relpath.split("/")):
        raise NotFound()  # no traversal, no half-written uploads
    resp = send_from_directory(_state().submissions.media_root, relpath, max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.post("/api/sessions")
def create_session() -> Any:
    queue, body = request.form.get("queue", ""), request.form.get("body", "")
    if queue not in _state().config.queues:  # either flavour: the configured queues
        return _error(400, "unknown queue", queues=_state().config.queues)
    if not body.strip():
        return _error(400, "body is required")
    token, lms_key = secrets.token_hex(16), secrets.token_hex(16)
    callback = f"{_state().platform_url}/xqueue/callback/{token}"
    header = json.dumps({"lms_callback_url": callback, "lms_key": lms_key, "queue_name": queue})
    _state().platform.open_session(token, lms_key, queue, _session_id(body))
    files = {name: storage.stream for name, storage in request.files.items()}
    if _state().edx is not None:
        return _create_edx_session(token, lms_key, queue, body, files)
    try:
        submission_id, _ = _state().queue.submit(header, body, files, request.remote_addr or "")
    except Refused as exc:
        _state().platform.bind_session(token, None)
        return _error(400, str(exc))
    _state().platform.bind_session(token, submission_id)
    logger.info("session submitted to queue %s as submission %d", queue, submission_id)
    return jsonify(submission_id=submission_id, callback=callback)


def _create_edx_session(token: str, lms_key: str, queue: str, body: str, files: dict[str, Any]) -> Any:
    """``create_external_grader_detail``: the body is the LMS's answer (``student_response``)."""
    try:
        points = int(request.form.get("points_possible", "1"))
    except ValueError:
        return _error(400, "points_possible must be an integer")
    submission_id = _state().edx.create(  # type: ignore[union-attr]
        queue, body, files, queue_key=lms_key, token=token, grader=request.form.get("grader", queue),
        points_possible=points, student_id=request.form.get("student_id", f"student-{token[:8]}"))
    _state().platform.bind_session(token, submission_id)
    logger.info("session created in queue %s as edx-submissions submission %d", queue, submission_id)
    return jsonify(submission_id=submission_id)


def _session_id(body: str) -> str | None:
    """The session id in a body: ours, or in an LMS envelope (as the worker reads it)."""
    try:
        parsed, _grader = find_description(json.loads(body))
    except (ValueError, RecursionError, SubmissionError):  # a hostile body is still queued; it just has no session id
        return None
    value = parsed.get("session_id") if isinstance(parsed, dict) else None
    return str(value) if isinstance(value, (str, int)) else None


@bp.post("/xqueue/callback/<token>")
def lms_callback(token: str) -> Any:
    header, body = request.form.get("xqueue_header"), request.form.get("xqueue_body")
    if header is None or body is None:
        return _error(400, "xqueue_header and xqueue_body are required")
    if not _state().platform.record_result(token, header, body):
        return _error(404, "unknown session")
    return jsonify(ok=True)


@bp.get("/api/results")
def api_results() -> Response:
    return jsonify(_state().platform.results())


@bp.get("/api/services")
def api_services() -> Response:
    return jsonify(_state().platform.services(_state().config.stale_after_s))


@bp.get("/api/alerts")
def api_alerts() -> Response:
    return jsonify(_state().platform.alerts())


@bp.get("/api/queues")
def api_queues() -> Response:
    return jsonify({name: counts.as_dict() for name, counts in _state().queue_counts().items()})


@bp.get("/api/events")
def api_events() -> Response:
    return jsonify(_state().platform.events())


@bp.get("/report/<int:number>")
def result_report(number: int) -> Response:
    results = _state().platform.results()
    if not 1 <= number <= len(results):
        raise NotFound()
    html = stored_report(results[number - 1])
    if html is None:
        raise NotFound(f"stored result {number} holds no result that follows the result schema")
    return Response(html, content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": _REPORT_CSP})


@bp.get("/")
def status_page() -> Response:
    state = _state()
    html = render_status_page(
        state.platform.services(state.config.stale_after_s), state.platform.results(),
        state.queue_counts(), (state.xqueue_url, state.platform_url), alerts=state.platform.alerts(),
    )
    return Response(html, content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": _PAGE_CSP, "Refresh": str(REFRESH_S),
                             "Cache-Control": "no-store"})
