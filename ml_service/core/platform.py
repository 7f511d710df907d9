"""Platform client: the service's token and its status events.

The service proves who it is with its pre-registered ``client_id``/``client_secret``
(POSTed to the token endpoint) and gets a JWT. The token is kept, refreshed shortly before
its ``exp`` (read from the JWT's payload, or ``expires_in``), and fetched anew once when a
call answers 401. It travels only in the ``Authorization`` header and is never logged.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import requests
import urllib3

from ml_service import __version__

from ml_service.core import bounded
from ml_service.core.errors import AuthError, ProtocolError, TransportError

__all__ = ["EVENT_TYPES", "PlatformClient", "ServiceIdentity", "jwt_expiry"]

logger = logging.getLogger(__name__)

EVENT_TYPES = frozenset({
    "service_started", "heartbeat", "session_processing_start",
    "session_processing_end", "session_processing_failed", "service_stopping",
    "violation_detected",
})
_REFRESH_MARGIN_S = 30.0
_REPLY_MAX_BYTES = 1024 * 1024  # a token or an event acknowledgement is a few hundred bytes
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


@dataclass(frozen=True)
class ServiceIdentity:
    """Who is speaking: sent with every status event."""

    name: str
    queue: str
    version: str = __version__
    host: str = socket.gethostname()

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "queue": self.queue, "version": self.version, "host": self.host}


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified: only to know when to refresh), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return exp if math.isfinite(exp) else None


def _expires_in(value: Any) -> float:
    """The token reply's ``expires_in``: absent means 300 s; anything but a positive finite
    number (or its digits as text) is a :class:`ProtocolError`, never a crash."""
    if value is None:
        return 300.0
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise ProtocolError("platform token reply has an expires_in that is not a positive number of seconds")
    return number


class PlatformClient:
    """Token handling and status events against the proctoring platform."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        identity: ServiceIdentity,
        *,
        token_path: str = "/ml/auth/token",
        events_path: str = "/ml/events",
        timeout_s: float = 10.0,
        verify_tls: bool = True,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id, self._client_secret = client_id, client_secret
        self.identity = identity
        self.token_url, self.events_url = self.base_url + token_path, self.base_url + events_path
        self.timeout_s, self.clock = timeout_s, clock
        self.http = session or requests.Session()
        self.http.verify = verify_tls
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._refresh_at = 0.0

    def token(self) -> str:
        """A valid token, fetched or refreshed as needed."""
        with self._token_lock:  # the event sender and a media download may ask at once
            if self._token is None or self.clock() >= self._refresh_at:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def invalidate_token(self) -> None:
        self._token = None

    def _fetch_token(self) -> None:
        body = {"client_id": self._client_id, "client_secret": self._client_secret}
        response = self._post(self.token_url, json=body, what="token request")
        if response.status_code in (400, 401, 403):
            raise AuthError(f"platform refused client {self._client_id!r} (HTTP {response.status_code})")
        data = self._json(response, "token request")
        token = data.get("access_token") or data.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("platform token reply has no access_token")
        now = self.clock()
        expiry = jwt_expiry(token) or (now + _expires_in(data.get("expires_in")))
        lifetime = max(0.0, expiry - now)
        self._token = token
        self._refresh_at = now + max(0.0, lifetime - min(_REFRESH_MARGIN_S, lifetime / 10))
        logger.info("Obtained a platform token for client %s (valid %.0f s)", self._client_id, lifetime)

    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def send_event(self, event_type: str, data: dict[str, Any], attempt: int = 1,
                   timestamp: float | None = None) -> None:
        """POST one status event; on 401 fetch a new token once and resend."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        event = {
            "timestamp": _iso(self.clock() if timestamp is None else timestamp),
            "event_type": event_type,
            "data": data,
            "attempt": attempt,
            "service": self.identity.as_dict(),
        }
        response = self._post(self.events_url, json=event, headers=self.auth_header(), what=event_type)
        if response.status_code == 401:
            self.invalidate_token()
            response = self._post(self.events_url, json=event, headers=self.auth_header(), what=event_type)
            if response.status_code == 401:
                raise AuthError(f"platform refused a fresh token for event {event_type}")
        if response.status_code >= 300:
            raise ProtocolError(f"platform refused event {event_type} (HTTP {response.status_code})")

    def _post(self, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.http.post(url, timeout=self.timeout_s, allow_redirects=False, stream=True, **kwargs)
            complete = bounded.read_capped(response, _REPLY_MAX_BYTES)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise TransportError(f"platform {what} to {url} failed: {type(exc).__name__}") from exc
        if not complete:
            raise ProtocolError(f"platform {what} answered over the {_REPLY_MAX_BYTES}-byte limit")
        if response.status_code >= 500:
            raise TransportError(f"platform {what} answered HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict[str, Any]:
        try:
            data = bounded.loads(response.text, f"platform {what} reply")
        except ValueError as exc:
            raise ProtocolError(f"platform {what} answered non-JSON") from exc
        if not isinstance(data, dict):
            raise ProtocolError(f"platform {what} answered JSON that is not an object")
        return data


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
