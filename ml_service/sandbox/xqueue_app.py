"""The XQueue-compatible web app: ``/xqueue/...`` as openedx/xqueue speaks it.

Every reply is HTTP 200 with a JSON envelope ``{"return_code": 0|1, "content": ...}``
served as ``text/html`` (``XQUEUE.md`` §1). Paths without their trailing slash answer 301
to the slashed URL (Django's APPEND_SLASH); protected endpoints answer 302 to
``/xqueue/login/?next=...`` without a live session (Django's ``login_required``).
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.routing import RequestRedirect

from ml_service.sandbox.callback import deliver
from ml_service.sandbox.logins import SESSION_AGE_S, random_key
from ml_service.sandbox.queue_store import INVALID_FORMAT, Refused
from ml_service.sandbox.state import SandboxState

__all__ = ["append_slash", "create_xqueue_app", "reply"]

logger = logging.getLogger(__name__)

bp = Blueprint("xqueue", __name__, url_prefix="/xqueue")
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_CSRF_AGE_S = 31449600
_MAX_ID = 2**63 - 1


def create_xqueue_app(state: SandboxState) -> Flask:
    """A Flask app serving the XQueue endpoints over ``state``."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_FORM_MEMORY_SIZE"] = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    app.extensions["sandbox"] = state
    app.before_request(append_slash)
    app.register_blueprint(bp)
    return app


def reply(ok: bool, content: Any) -> Response:
    """xqueue's ``compose_reply``: the JSON envelope, HTTP 200, ``text/html``."""
    body = json.dumps({"return_code": 0 if ok else 1, "content": content})
    return Response(body, status=200, content_type="text/html; charset=utf-8")


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def append_slash() -> Response | None:
    """Answer Werkzeug's slash redirect with a 301 (Django) instead of its 308."""
    exc = request.routing_exception
    if not isinstance(exc, RequestRedirect):
        return None
    target = urlsplit(exc.new_url)
    location = target.path + (f"?{target.query}" if target.query else "")
    return Response(status=301, headers={"Location": location}, content_type="text/html")


def _full_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def login_required(view: Callable[[], Response]) -> Callable[[], Response]:
    """Without a live session: 302 to the login view, as Django does."""

    @functools.wraps(view)
    def wrapped() -> Response:
        user = _state().logins.user(request.cookies.get("sessionid"))
        if user is None or user not in _state().config.users:
            location = "/xqueue/login/?next=" + quote(_full_path(), safe="/")
            return Response(status=302, headers={"Location": location},
                            content_type="text/html; charset=utf-8")
        return view()

    return wrapped


def _client_ip() -> str:
    return request.headers.get("X-Real-IP") or request.remote_addr or ""


@bp.route("/login/", methods=_ANY)
def login() -> Response:
    if request.method != "POST":
        return reply(False, "login_required")
    if "password" not in request.form:
        return reply(False, "Insufficient login info")
    if "username" not in request.form:  # xqueue's quirk: a KeyError, i.e. a server error
        return Response("<h1>Server Error (500)</h1>", status=500, content_type="text/html")
    username = request.form["username"]
    if not _state().check_user(username, request.form["password"]):
        logger.info("XQueue login refused for user %r", username)
        return reply(False, "Incorrect login credentials")
    resp = reply(True, "Logged in")
    resp.set_cookie("sessionid", _state().logins.create(username), max_age=SESSION_AGE_S,
                    httponly=True, samesite="Lax")
    resp.set_cookie("csrftoken", random_key(), max_age=_CSRF_AGE_S, samesite="Lax")
    return resp


@bp.route("/logout/", methods=_ANY)
def logout() -> Response:
    _state().logins.end(request.cookies.get("sessionid"))
    resp = reply(True, "Goodbye")
    resp.delete_cookie("sessionid", samesite="Lax")
    return resp


@bp.route("/status/", methods=_ANY)
def status() -> Response:
    return reply(True, "OK")


@bp.route("/get_queuelen/", methods=_ANY)
@login_required
def get_queuelen() -> Response:
    name = request.args.get("queue_name")
    if name is None:
        return reply(False, "'get_queuelen' must provide parameter 'queue_name'")
    if not _state().queue.has_queue(name):
        return reply(False, "Valid queue names are: " + ", ".join(_state().queue.queues))
    return reply(True, _state().queue.queue_length(name))


@bp.route("/get_submission/", methods=_ANY)
@login_required
def get_submission() -> Response:
    name = request.args.get("queue_name")
    if name is None:
        return reply(False, "'get_submission' must provide parameter 'queue_name'")
    if not _state().queue.has_queue(name):
        return reply(False, f"Queue '{name}' not found")
    item = _state().queue.pull(name, _client_ip())
    if item is None:
        return reply(False, f"Queue '{name}' is empty")
    header = {"submission_id": item.submission_id, "submission_key": item.key}
    files = _state().media_urls(item.file_keys)
    payload = {
        "xqueue_header": json.dumps(header),
        "xqueue_body": item.body,
        "xqueue_files": json.dumps(files),
    }
    logger.debug("submission %d of queue %s pulled", item.submission_id, name)
    return reply(True, json.dumps(payload))


@bp.route("/put_result/", methods=_ANY)
@login_required
def put_result() -> Response:
    if request.method != "POST":
        return reply(False, "'put_result' must use HTTP POST")
    parsed = _parse_grader_reply(request.form)
    if parsed is None:
        return reply(False, "Incorrect reply format")
    try:
        delivery = _state().queue.accept_reply(*parsed)
    except Refused as exc:
        logger.info("put_result for submission %d refused: %s", parsed[0], exc)
        return reply(False, str(exc))
    cfg = _state().config
    delivered = deliver(delivery.callback_url, delivery.lms_header, delivery.reply,
                        cfg.callback_attempts, cfg.callback_timeout_s)
    _state().queue.record_delivery(delivery.submission_id, delivered)
    return reply(True, "")


def _parse_grader_reply(form: Any) -> tuple[int, Any, str] | None:
    """``(submission_id, submission_key, xqueue_body)``, or None if malformed."""
    if "xqueue_header" not in form or "xqueue_body" not in form:
        return None
    try:
        header = json.loads(form["xqueue_header"])
        if not isinstance(header, dict):
            return None
        submission_id = int(header["submission_id"])
        key = header["submission_key"]
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= submission_id <= _MAX_ID:
        submission_id = 0  # an id no row has: "Submission does not exist"
    return submission_id, key, form["xqueue_body"]


@bp.route("/submit/", methods=_ANY)
@login_required
def submit() -> Response:
    if request.method != "POST":
        return reply(False, "Queue requests should use HTTP POST")
    header, body = request.form.get("xqueue_header"), request.form.get("xqueue_body")
    if header is None or body is None:
        return reply(False, INVALID_FORMAT)
    files = {name: storage.stream for name, storage in request.files.items()}
    try:
        submission_id, length = _state().queue.submit(header, body, files, _client_ip())
    except Refused as exc:
        return reply(False, str(exc))
    logger.info("submission %d queued; queue length %d", submission_id, length)
    return reply(True, str(length))
