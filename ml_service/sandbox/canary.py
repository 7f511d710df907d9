"""Loopback HTTP servers that record every request: canaries and scripted fakes.

:class:`RecordingServer` binds an address in 127.0.0.0/8 (port 0 picks a free one), answers
every request with what its ``respond`` callable returns (a body, chunks written one by one,
or status 0 to drop the connection) and records who asked for what (:class:`Hit`). A *canary* is a recording server that nothing should ever reach: a test or
``bench/hostile.py`` points tricky URLs at it and counts its hits. Its host is a loopback address
or a name (``localhost``) that resolves to loopback addresses only; anything else is refused, so a
fake can never be served on a real network.

Use::

    with RecordingServer("127.0.0.2") as canary:
        fetch(f"http://{canary.authority}/x")   # must not happen
        assert canary.hits == []
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

from ml_service.sandbox.callback import is_loopback_host

__all__ = ["Hit", "RecordingServer", "Reply"]

_MAX_BODY = 64 << 20  # a request body over this is not read: the connection is dropped
Reply = tuple[int, dict[str, str], "bytes | Iterable[bytes]"]  # status 0: drop the connection unanswered


@dataclass(frozen=True)
class Hit:
    """One request a recording server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    peer: str = ""

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


def _ok(hit: Hit) -> Reply:
    return 200, {"Content-Type": "application/octet-stream"}, b"canary"


@dataclass
class RecordingServer:
    """A threaded HTTP server on a loopback address; ``respond`` may be replaced at any time."""

    host: str = "127.0.0.1"
    port: int = 0
    respond: Callable[[Hit], Reply] = _ok
    hits: list[Hit] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problem = _not_loopback(self.host)
        if problem:
            raise ValueError(f"{problem}: a recording server serves on loopback only")

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"

    def __enter__(self) -> RecordingServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._server = _QuietServer((self.host, self.port), _handler_for(self))
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name=f"recording-{self.authority}").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _not_loopback(host: str) -> str | None:
    """Why ``host`` is no loopback host (None when every address it resolves to is loopback)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError) as exc:
        return f"{host!r} does not resolve ({exc})"
    off = sorted(a for a in addresses if not is_loopback_host(a))
    if off == [host]:
        return f"{host!r} is not a loopback address"
    return f"{host!r} resolves to {', '.join(off)}, not only to loopback addresses" if off else None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-answer is what hostile tests do


def _handler_for(owner: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            hit = Hit(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
            owner.hits.append(hit)
            status, headers, payload = owner.respond(hit)
            if status == 0:
                self.close_connection = True
                return
            self.send_response(status)
            length = {"Content-Length": str(len(payload))} if isinstance(payload, bytes) else {"Connection": "close"}
            for name, value in {**length, **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            for chunk in [payload] if isinstance(payload, bytes) else payload:
                self.wfile.write(chunk)
                self.wfile.flush()
            self.close_connection = self.close_connection or not isinstance(payload, bytes)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

    return Handler
