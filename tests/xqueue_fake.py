"""An httpretty-backed XQueue and platform for the pull loop's unit tests.

It answers like the legacy server (HTTP 200 + envelope, 302 when the session is missing),
records every request, and lets a test change behaviour per endpoint.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs

import httpretty

XQ = "http://xqueue.test"
PLATFORM = "http://platform.test"
MEDIA = "http://xqueue.test/media"


def envelope(code: int, content: Any) -> str:
    return json.dumps({"return_code": code, "content": content})


def encode_submission(sub_id: int, key: str, body: Any, files: dict[str, str]) -> str:
    """The get_submission content with XQueue's three layers of JSON."""
    header = json.dumps({"submission_id": sub_id, "submission_key": key})
    return json.dumps({
        "xqueue_header": header,
        "xqueue_body": body if isinstance(body, str) else json.dumps(body),
        "xqueue_files": json.dumps(files),
    })


@dataclass
class FakeXQueue:
    """State of the fake server; ``install()`` registers its routes with httpretty."""

    queue: str = "debug"
    users: dict[str, str] = field(default_factory=lambda: {"ml_service": "ml_password"})
    waiting: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)
    results: list[dict[str, str]] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    logins: int = 0
    put_reply: Callable[[dict[str, str]], tuple[int, str]] | None = None
    pull_override: Callable[[], tuple[int, str]] | None = None

    def add(self, sub_id: int, body: Any, files: dict[str, str] | None = None) -> None:
        self.waiting.append((sub_id, body, files or {}))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def install(self) -> None:
        httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/login/", body=envelope(1, "login_required"),
                               set_cookie="csrftoken=csrf123; Path=/")
        httpretty.register_uri(httpretty.POST, f"{XQ}/xqueue/login/", body=self._login)
        httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/", body=self._protected(self._pull))
        httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_queuelen/", body=self._protected(self._queuelen))
        httpretty.register_uri(httpretty.POST, f"{XQ}/xqueue/put_result/", body=self._protected(self._put))

    def _login(self, request, uri, headers):
        self.logins += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if self.users.get(form.get("username")) != form.get("password"):
            return [200, headers, envelope(1, "Incorrect login credentials")]
        sid = secrets.token_hex(8)
        self.sessions.add(sid)
        headers["Set-Cookie"] = f"sessionid={sid}; HttpOnly; Path=/"
        return [200, headers, envelope(0, "Logged in")]

    def _protected(self, view):
        def wrapped(request, uri, headers):
            cookie = request.headers.get("Cookie", "")
            sid = next((c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("sessionid=")), None)
            if sid not in self.sessions:
                headers["Location"] = "/xqueue/login/?next=" + uri.split(XQ, 1)[-1]
                return [302, headers, ""]
            status, body = view(request)
            return [status, headers, body]
        return wrapped

    def _pull(self, request) -> tuple[int, str]:
        if self.pull_override is not None:
            return self.pull_override()
        name = request.querystring.get("queue_name", [None])[0]
        if name != self.queue:
            return 200, envelope(1, f"Queue '{name}' not found")
        if not self.waiting:
            return 200, envelope(1, f"Queue '{name}' is empty")
        sub_id, body, files = self.waiting.pop(0)
        key = secrets.token_hex(16)
        self.keys[sub_id] = key
        return 200, envelope(0, encode_submission(sub_id, key, body, files))

    def _queuelen(self, request) -> tuple[int, str]:
        return 200, envelope(0, len(self.waiting))

    def _put(self, request) -> tuple[int, str]:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        self.results.append(form)
        if self.put_reply is not None:
            return self.put_reply(form)
        header = json.loads(form["xqueue_header"])
        if self.keys.get(header["submission_id"]) != header["submission_key"]:
            return 200, envelope(1, "Incorrect key for submission")
        return 200, envelope(0, "")


@dataclass
class FakePlatform:
    """Token endpoint and status-event sink."""

    secret: str = "s3cr3t-client-secret"
    token_ttl: int = 3600
    issued: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    reject_next_event: int = 0
    down: bool = False
    now: Callable[[], float] = lambda: 1_700_000_000.0

    def install(self) -> None:
        httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token", body=self._token)
        httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/events", body=self._event)

    def _token(self, request, uri, headers):
        data = json.loads(request.body)
        if data.get("client_secret") != self.secret:
            return [401, headers, json.dumps({"error": "invalid_client"})]
        token = make_jwt({"sub": data["client_id"], "exp": int(self.now()) + self.token_ttl})
        self.issued.append(token)
        return [200, headers, json.dumps({"access_token": token, "token_type": "Bearer",
                                          "expires_in": self.token_ttl})]

    def _event(self, request, uri, headers):
        if self.down:
            return [503, headers, "maintenance"]
        auth = request.headers.get("Authorization", "")
        self.auth_headers.append(auth)
        if self.reject_next_event > 0 or auth != f"Bearer {self.issued[-1] if self.issued else ''}":
            self.reject_next_event = max(0, self.reject_next_event - 1)
            return [401, headers, json.dumps({"error": "invalid token"})]
        self.events.append(json.loads(request.body))
        return [200, headers, json.dumps({"ok": True})]

    def types(self) -> list[str]:
        return [e["event_type"] for e in self.events]


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking but well-formed JWT (the worker never verifies signatures)."""
    import base64

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(16)}"
