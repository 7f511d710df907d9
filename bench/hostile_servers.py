"""Scripted loopback servers for bench/hostile.py: an XQueue and a platform that do what a case says.

:class:`ScriptedXQueue` logs anyone in, serves the raw get_submission replies queued with
:meth:`ScriptedXQueue.offer` (then "Queue ... is empty"), counts polls, and records every
put_result form, answering what ``put_reply`` says (default: success, or 413 for a request over
1 MiB, as nginx's default ``client_max_body_size`` in front of XQueue does).
:class:`ScriptedPlatform` issues JWT-shaped tokens (or what ``token_reply`` says), records status
events (answering what ``events_reply`` says) and serves media routes. Both are
:class:`~ml_service.sandbox.canary.RecordingServer` instances underneath, on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from ml_service.sandbox.canary import Hit, RecordingServer, Reply

__all__ = ["QUEUE", "RouteServer", "ScriptedPlatform", "ScriptedXQueue", "envelope", "json_reply", "make_jwt",
           "submission_reply"]

QUEUE = "hostile"
_MAX_BODY = 1 << 20
_JSON = {"Content-Type": "application/json"}


def envelope(code: int, content: Any) -> Reply:
    return 200, {"Content-Type": "text/html"}, json.dumps({"return_code": code, "content": content}).encode()


def json_reply(status: int, data: Any) -> Reply:
    return status, _JSON, json.dumps(data).encode()


def submission_reply(sub_id: Any, body: Any, files: Any, key: Any = None, header: Any = None) -> Reply:
    """A successful get_submission with XQueue's three layers of JSON (each part may be raw text)."""
    if header is None:
        header = {"submission_id": sub_id, "submission_key": key if key is not None else secrets.token_hex(16)}
    text = lambda part: part if isinstance(part, str) else json.dumps(part)  # noqa: E731
    return envelope(0, json.dumps({"xqueue_header": text(header), "xqueue_body": text(body),
                                   "xqueue_files": text(files)}))


class ScriptedXQueue:
    """A minimal XQueue whose get_submission replies are queued by the bench."""

    def __init__(self) -> None:
        self.server = RecordingServer("127.0.0.1", respond=self._respond)
        self.replies: deque[Reply] = deque()
        self.polls = 0
        self.results: list[dict[str, str]] = []  # every put_result form; "accepted" says if it landed
        self.put_reply: Callable[[dict[str, str]], Reply] | None = None
        self._lock = threading.Lock()

    def offer(self, reply: Reply) -> int:
        """Queue one raw reply; return the poll count after which it will have been served."""
        with self._lock:
            self.replies.append(reply)
            return self.polls + len(self.replies)

    def answer_for(self, sub_id: int, key: str | None = None) -> dict[str, Any] | None:
        """The parsed xqueue_body the worker sent and XQueue accepted for ``sub_id`` (and ``key``)."""
        for form in list(self.results):
            if form.get("accepted") != "yes":
                continue
            try:
                header = json.loads(form.get("xqueue_header", "{}"))
                if header.get("submission_id") == sub_id and key in (None, header.get("submission_key")):
                    return json.loads(form.get("xqueue_body", "null"))
            except (ValueError, AttributeError):
                continue
        return None

    def _respond(self, hit: Hit) -> Reply:
        path = urlsplit(hit.path).path
        if path == "/xqueue/login/":
            if hit.method == "GET":
                return 200, {"Set-Cookie": "csrftoken=csrf; Path=/"}, envelope(1, "login_required")[2]
            return 200, {"Set-Cookie": "sessionid=s; HttpOnly; Path=/"}, envelope(0, "Logged in")[2]
        if path == "/xqueue/get_submission/":
            with self._lock:
                self.polls += 1
                if self.replies:
                    return self.replies.popleft()
            return envelope(1, f"Queue '{QUEUE}' is empty")
        if path == "/xqueue/get_queuelen/":
            return envelope(0, len(self.replies))
        if path == "/xqueue/put_result/":
            form = {k: v[0] for k, v in parse_qs(hit.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
            if len(hit.body) > _MAX_BODY:
                reply: Reply = (413, {"Content-Type": "text/html"}, b"<h1>413 Request Entity Too Large</h1>")
            else:
                reply = self.put_reply(form) if self.put_reply else envelope(0, "")
            form["accepted"] = "yes" if reply[0] == 200 and reply[2] == envelope(0, "")[2] else "no"
            self.results.append(form)
            return reply
        return 404, {}, b"not found"


def make_jwt(lifetime_s: float = 3600.0, exp: Any = None) -> str:
    """A JWT-shaped token (unsigned: the worker only reads ``exp``)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": "hostile", "exp": exp if exp is not None else int(time.time() + lifetime_s)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(16)}"


class ScriptedPlatform:
    """Token endpoint, status-event sink and media host, each scriptable per case."""

    def __init__(self) -> None:
        self.server = RecordingServer("127.0.0.1", respond=self._respond)
        self.tokens: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.token_reply: Callable[[], Reply] | None = None
        self.events_reply: Callable[[Hit], Reply] | None = None
        self.media: dict[str, Callable[[Hit], Reply]] = {}

    def reset(self) -> None:
        self.token_reply = self.events_reply = None
        self.media.clear()

    def issue(self, token: str, expires_in: Any = 3600, **extra: Any) -> Reply:
        """Answer a token request with ``token`` (remembered, so the logs can be searched for it)."""
        self.tokens.append(token)
        return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, **extra})

    def unanswerable_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("data", {}).get("unanswerable")]

    def _respond(self, hit: Hit) -> Reply:
        path = urlsplit(hit.path).path
        if path == "/ml/auth/token":
            return self.token_reply() if self.token_reply else self.issue(make_jwt())
        if path == "/ml/events":
            if self.events_reply is not None:
                return self.events_reply(hit)
            try:
                self.events.append(json.loads(hit.body))
            except ValueError:
                return json_reply(400, {"error": "bad body"})
            return json_reply(200, {"ok": True})
        if path in self.media:
            return self.media[path](hit)
        return 404, {}, b"not found"


class RouteServer:
    """A media host: path -> responder, anything else 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Callable[[Hit], Reply]] = {}
        self.server = RecordingServer(host, respond=self._respond)

    def _respond(self, hit: Hit) -> Reply:
        responder = self.routes.get(urlsplit(hit.path).path)
        return responder(hit) if responder else (404, {}, b"not found")
