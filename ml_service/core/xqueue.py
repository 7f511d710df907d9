"""XQueue client: the pull side of the protocol, as the real server speaks it.

Django session login (with the CSRF handshake the edx-submissions successor wants),
``get_queuelen``, ``get_submission`` and ``put_result``. Redirects are never followed: a
301/302/401/403 means the session was lost, so the client logs in once more and retries
once; a second refusal raises :class:`AuthError`. Bodies are parsed as JSON whatever the
Content-Type says, and read at most 8 MiB (decompressed) of any reply. Every failure is raised
as one of ``ml_service.core.errors``.

The same client speaks to openedx/xqueue and to edx-submissions' XQueue API
(:mod:`ml_service.core.flavour`); unless configured, the flavour is told apart by the answer to
the login page's GET, at the first login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from ml_service.core import bounded
from ml_service.core.bounded import excerpt
from ml_service.core.errors import AuthError, LeaseLostError, ProtocolError, TransportError
from ml_service.core.flavour import Flavour, detect
from ml_service.core.submission import REPLY_MAX_CHARS, Pulled, decode_pull

__all__ = ["Reply", "XQueueClient"]

logger = logging.getLogger(__name__)

_SESSION_LOST = {301, 302, 401, 403}


@dataclass(frozen=True)
class Reply:
    """The ``{return_code, content}`` envelope of every XQueue answer."""

    return_code: int
    content: Any

    @property
    def ok(self) -> bool:
        return self.return_code == 0


class XQueueClient:
    """One logged-in conversation with an XQueue server."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout_s: float = 10.0,
        put_timeout_s: float = 60.0,
        basic_auth: tuple[str, str] | None = None,
        verify_tls: bool = True,
        session: requests.Session | None = None,
        flavour: Flavour | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username, self._password = username, password
        self.timeout_s, self.put_timeout_s = timeout_s, put_timeout_s
        self.http = session or requests.Session()
        self.http.auth = basic_auth
        self.http.verify = verify_tls
        self.logged_in = False
        self.flavour = flavour  # None: detected at the first login

    def server_flavour(self) -> Flavour:
        """The server's flavour; logs in first if it is still to be detected."""
        if self.flavour is None:
            self.login()
        return self.flavour or Flavour.XQUEUE

    def url(self, action: str) -> str:
        """The slashed URL of an action (a missing slash costs a 301 that drops POST bodies)."""
        return f"{self.base_url}/xqueue/{action}/"

    def login(self) -> None:
        """Log in; raise :class:`AuthError` if the server refuses the credentials."""
        page = self._send("GET", "login", timeout=self.timeout_s)  # obtains the csrftoken cookie
        if self.flavour is None:
            self._detect(page)
        data = {"username": self._username, "password": self._password}
        response = self._send("POST", "login", data=data, timeout=self.timeout_s)
        reply = self._parse(response, "login")
        if response.status_code in _SESSION_LOST or not reply.ok:
            self.logged_in = False
            raise AuthError(f"XQueue login as {self._username!r} refused: {excerpt(reply.content)}")
        self.logged_in = True
        logger.info("Logged in to XQueue at %s as %s", self.base_url, self._username)

    def _detect(self, page: requests.Response) -> None:
        try:
            reply = self._parse(page, "login")
            found = detect(reply.return_code, reply.content)
        except ProtocolError:
            found = None
        if found is None:
            logger.warning("Cannot tell which XQueue server %s is from its login page (HTTP %s); assuming "
                           "openedx/xqueue. Set ML_XQUEUE_FLAVOUR to say.", self.base_url, page.status_code)
        self.flavour = found or Flavour.XQUEUE
        logger.info("XQueue at %s is %s", self.base_url, self.flavour.value)

    def status(self) -> bool:
        """True when openedx/xqueue's health endpoint answers OK (no login needed; edx-submissions
        has no such endpoint: its ``status/`` wants a logged-in POST and answers no JSON)."""
        return self._parse(self._send("GET", "status", timeout=self.timeout_s), "status").ok

    def get_queuelen(self, queue: str) -> int:
        """Number of submissions waiting (not leased) in ``queue``."""
        if self.server_flavour() is Flavour.EDX:
            raise ProtocolError("edx-submissions has no get_queuelen")
        reply = self._call("GET", "get_queuelen", params={"queue_name": queue})
        if not reply.ok:
            raise ProtocolError(f"get_queuelen for {queue!r} failed: {excerpt(reply.content)}")
        try:
            return int(reply.content)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"get_queuelen returned a non-number: {excerpt(reply.content)}") from exc

    def get_submission(self, queue: str) -> Pulled | None:
        """Pull the oldest waiting submission, or ``None`` if the queue is empty."""
        reply = self._call("GET", "get_submission", params={"queue_name": queue})
        if reply.ok:
            return decode_pull(reply.content)
        text = str(reply.content)
        if text == f"Queue '{queue}' is empty":
            return None
        raise ProtocolError(f"get_submission from {queue!r} failed: {excerpt(text)}")

    def put_result(self, header: str, body: str) -> None:
        """Send a result; :class:`LeaseLostError` if the key was superseded by a re-pull."""
        data = {"xqueue_header": header, "xqueue_body": body}
        try:
            reply = self._call("POST", "put_result", data=data, timeout=self.put_timeout_s)
        except TransportError as exc:
            if self.flavour is Flavour.EDX and exc.status == 500:
                raise LeaseLostError("edx-submissions answered put_result with HTTP 500", graded=True) from exc
            raise
        if reply.ok:
            return
        if reply.content == "Incorrect key for submission":
            raise LeaseLostError("XQueue refused the result: Incorrect key for submission")
        raise ProtocolError(f"put_result failed: {excerpt(reply.content)}")

    def _call(self, method: str, action: str, timeout: float | None = None, **kwargs: Any) -> Reply:
        """A protected call: log in first if needed; on a lost session log in once and retry."""
        if not self.logged_in:
            self.login()
        timeout = timeout or self.timeout_s
        response = self._send(method, action, timeout=timeout, **kwargs)
        if not self._session_lost(response):
            return self._parse(response, action)
        logger.info("XQueue session lost on %s (HTTP %s); logging in again", action, response.status_code)
        self.logged_in = False
        self.login()
        response = self._send(method, action, timeout=timeout, **kwargs)
        if self._session_lost(response):
            self.logged_in = False
            raise AuthError(f"XQueue still refuses {action} after a fresh login (HTTP {response.status_code})")
        return self._parse(response, action)

    @staticmethod
    def _session_lost(response: requests.Response) -> bool:
        """Redirect to login, 401/403, or a "login_required" reply; a wrong key is not one."""
        try:
            content = bounded.loads(response.text, "XQueue reply", REPLY_MAX_CHARS).get("content")
        except (ValueError, AttributeError):
            content = None
        if content == "Incorrect key for submission":
            return False
        return response.status_code in _SESSION_LOST or content == "login_required"

    def _send(self, method: str, action: str, **kwargs: Any) -> requests.Response:
        headers = {}
        if method == "POST":
            headers["Referer"] = self.base_url + "/"
            token = self.http.cookies.get("csrftoken")
            if token:
                headers["X-CSRFToken"] = token
        try:
            response = self.http.request(method, self.url(action), headers=headers,
                                         allow_redirects=False, stream=True, **kwargs)
            complete = bounded.read_capped(response, REPLY_MAX_CHARS)
        except requests.RequestException as exc:
            raise TransportError(f"XQueue {action} at {self.base_url} failed: {type(exc).__name__}") from exc
        except urllib3.exceptions.HTTPError as exc:  # raised by the raw read
            raise TransportError(f"XQueue {action} at {self.base_url} failed: {type(exc).__name__}") from exc
        if not complete:
            raise ProtocolError(f"XQueue {action} answered over the {REPLY_MAX_CHARS}-byte limit")
        return response

    @staticmethod
    def _parse(response: requests.Response, action: str) -> Reply:
        if response.status_code >= 500:
            raise TransportError(f"XQueue {action} answered HTTP {response.status_code}", response.status_code)
        try:
            data = bounded.loads(response.text, f"XQueue {action} reply", REPLY_MAX_CHARS)
        except ValueError as exc:
            if response.status_code in _SESSION_LOST:
                return Reply(1, f"HTTP {response.status_code}")
            raise ProtocolError(f"XQueue {action} answered non-JSON (HTTP {response.status_code})") from exc
        if not isinstance(data, dict) or "return_code" not in data:
            raise ProtocolError(f"XQueue {action} answered JSON without return_code")
        try:
            code = int(data["return_code"])
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"XQueue {action} answered a non-integer return_code") from exc
        return Reply(code, data.get("content"))
