"""The sandbox's ``/xqueue/`` as edx-submissions' ``XQueueViewSet`` speaks it (4.0.2).

What differs from openedx/xqueue (``shared/XQUEUE.md`` §10; the real package keeps this
honest in ``tests/interop``): JSON replies with real status codes; ``GET login/`` hands out
the CSRF cookie with ``0 ""``; a POST to ``login/`` answers 200, 400 or 401; without a session
every endpoint but login answers 403 ``{"detail": ...}``; put_result enforces CSRF
(``X-CSRFToken`` equal to the ``csrftoken`` cookie); keys are UUIDs; a stale key is a 403;
``status/`` is POST-only (and answers a non-JSON body, as the real view does); there is no
``get_queuelen/`` and no ``submit/`` (404): submissions come in through the platform's
``/api/sessions``, as the LMS creates them in process. A score is stored as
:mod:`ml_service.sandbox.edx_store` says; one it cannot store still answers ``0 ""``.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Callable

from flask import Blueprint, Flask, Response, current_app, request

from ml_service.sandbox.edx_store import EdxRefused, EdxStore
from ml_service.sandbox.logins import SESSION_AGE_S, random_key
from ml_service.sandbox.state import SandboxState
from ml_service.sandbox.xqueue_app import append_slash

__all__ = ["create_edx_app"]

logger = logging.getLogger(__name__)

bp = Blueprint("xqueue_edx", __name__, url_prefix="/xqueue")
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_CSRF_AGE_S = 31449600
View = Callable[[], Response]
_SERVER_ERROR = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n" \
                "<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n"


def create_edx_app(state: SandboxState) -> Flask:
    """A Flask app serving edx-submissions' XQueue endpoints over ``state``."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_FORM_MEMORY_SIZE"] = 2_621_440
    app.extensions["sandbox"] = state
    app.before_request(append_slash)
    app.register_blueprint(bp)
    return app


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _store() -> EdxStore:
    store = _state().edx
    assert store is not None, "the sandbox runs the xqueue flavour"
    return store


def envelope(ok: bool, content: Any, status: int = 200) -> Response:
    """``compose_reply`` in a DRF ``Response``: JSON, with a real status code."""
    body = json.dumps({"return_code": 0 if ok else 1, "content": content}, separators=(",", ":"))
    return Response(body, status=status, content_type="application/json")


def _detail(text: str, status: int) -> Response:
    return Response(json.dumps({"detail": text}, separators=(",", ":")), status=status,
                    content_type="application/json")


def allowed(*methods: str) -> Callable[[View], View]:
    """The view answers only ``methods``; any other is a 405 ``{"detail": ...}``. Put it under
    :func:`xqueue_user`: DRF checks the method after authentication."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped() -> Response:
            if request.method not in methods:
                return _detail(f'Method "{request.method}" not allowed.', 405)
            return view()

        return wrapped

    return decorate


def xqueue_user(view: View) -> View:
    """``IsXQueueUser`` behind ``SessionAuthentication``: 403 without a session; CSRF on POST."""

    @functools.wraps(view)
    def wrapped() -> Response:
        user = _state().logins.user(request.cookies.get("sessionid"))
        if user is None or user not in _state().config.users:
            return _detail("Authentication credentials were not provided.", 403)
        if request.method == "POST":
            cookie, header = request.cookies.get("csrftoken"), request.headers.get("X-CSRFToken")
            if not cookie:
                return _detail("CSRF Failed: CSRF cookie not set.", 403)
            if not header:
                return _detail("CSRF Failed: CSRF token missing.", 403)
            if header != cookie:
                return _detail("CSRF Failed: CSRF token incorrect.", 403)
        return view()

    return wrapped


@bp.route("/login/", methods=_ANY)
@allowed("GET", "POST")
def login() -> Response:
    if request.method == "GET":
        resp = envelope(True, "")
        if not request.cookies.get("csrftoken"):
            resp.set_cookie("csrftoken", random_key(), max_age=_CSRF_AGE_S, samesite="Lax")
        return resp
    if "username" not in request.form or "password" not in request.form:
        return envelope(False, "Insufficient login info", 400)
    username = request.form["username"]
    if not _state().check_user(username, request.form["password"]):
        logger.info("XQueue login refused for user %r", username)
        return envelope(False, "Incorrect login credentials", 401)
    resp = envelope(True, "Logged in")
    resp.set_cookie("sessionid", _state().logins.create(username), max_age=SESSION_AGE_S,
                    httponly=True, samesite="Lax")
    resp.set_cookie("csrftoken", random_key(), max_age=_CSRF_AGE_S, samesite="Lax")  # login rotates it
    return resp


@bp.route("/logout/", methods=_ANY)
@xqueue_user
@allowed("POST")
def logout() -> Response:
    _state().logins.end(request.cookies.get("sessionid"))
    resp = envelope(True, "Goodbye")
    resp.delete_cookie("sessionid", samesite="Lax")
    return resp


@bp.route("/status/", methods=_ANY)
@xqueue_user
@allowed("POST")
def status() -> Response:
    # The real view returns HttpResponse(dict): Django writes the dict's keys, not JSON.
    return Response("return_codecontent", content_type="text/html; charset=utf-8")


@bp.route("/get_submission/", methods=_ANY)
@xqueue_user
@allowed("GET")
def get_submission() -> Response:
    name = request.args.get("queue_name")
    if not name:
        return envelope(False, "'get_submission' must provide parameter 'queue_name'", 400)
    item = _store().pull(name)
    if item is None:
        return envelope(False, f"Queue '{name}' is empty")
    body = {
        "grader_payload": json.dumps({"grader": item.grader_file_name}),
        "student_info": json.dumps({"anonymous_student_id": item.student_id,
                                    "submission_time": str(int(item.created)), "random_seed": 1}),
        "student_response": item.answer,
    }
    payload = {
        "xqueue_header": json.dumps({"submission_id": item.submission_id, "submission_key": item.key}),
        "xqueue_body": json.dumps(body),
        "xqueue_files": json.dumps(_state().media_urls(item.files)),
    }
    return envelope(True, json.dumps(payload))


@bp.route("/put_result/", methods=_ANY)
@xqueue_user
@allowed("POST")
def put_result() -> Response:
    try:
        parsed = _grader_reply(request.form)
    except (TypeError, ValueError, AttributeError):
        return Response(_SERVER_ERROR, status=500, content_type="text/html; charset=utf-8")
    if parsed is None:
        return envelope(False, "Incorrect reply format", 400)
    submission_id, key, reply, score = parsed
    try:
        stored = _store().record(submission_id, key, reply, score)
    except EdxRefused as exc:
        if exc.status == 500:
            return Response(_SERVER_ERROR, status=500, content_type="text/html; charset=utf-8")
        return envelope(False, str(exc), exc.status)
    if stored.problem is not None:
        logger.warning("Error recording score for submission %d: %s", submission_id, stored.problem)
    else:
        lms_header = json.dumps({"lms_key": stored.queue_key, "queue_name": stored.queue_name})
        _state().platform.record_result(stored.token, lms_header, reply)
    return envelope(True, "")


def _grader_reply(form: Any) -> tuple[int, Any, str, Any] | None:
    """``validate_grader_reply``: None for "Incorrect reply format"; a raise is a server error."""
    if "xqueue_header" not in form or "xqueue_body" not in form:
        return None
    try:
        header = json.loads(form["xqueue_header"])
        score = json.loads(form["xqueue_body"])
    except ValueError:
        return None
    points = score.get("score")  # a JSON body that is no object: AttributeError, HTTP 500
    if not isinstance(header, dict) or any(tag not in header for tag in ("submission_id", "submission_key")):
        return None
    return int(header["submission_id"]), header["submission_key"], form["xqueue_body"], points
