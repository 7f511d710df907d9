"""Fault injection for the sandbox: 5xx answers, slow answers and dropped connections.

:class:`FaultPlan` says how often each fault happens and on which paths; the sandbox wraps
both apps in :class:`FaultInjector`, which reads the plan on every request, so a test can
change it while workers run. Faults strike *before* the app sees the request, so an
injected failure never leaves half-done work on the server side.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["FaultInjector", "FaultPlan"]

_STATUSES = ("500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable")


@dataclass
class FaultPlan:
    """Rates in [0, 1] per request; ``paths`` are prefixes (empty: every path)."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 1.5
    reset_rate: float = 0.0
    paths: tuple[str, ...] = ()
    seed: int | None = None
    injected: Counter[str] = field(default_factory=Counter)

    def applies_to(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)


class FaultInjector:
    """WSGI middleware that carries out the current :class:`FaultPlan`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], plan: Callable[[], FaultPlan]) -> None:
        self.app, self.plan = app, plan
        self._rng = random.Random()
        self._seeded: int | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        plan = self.plan()
        if not plan.applies_to(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        fault = self._draw(plan)
        if fault is not None:
            plan.injected[fault] += 1
        if fault == "reset":
            _drop(environ)
            start_response("500 Internal Server Error", [("Connection", "close")])
            return [b""]
        if fault == "error":
            start_response(self._rng.choice(_STATUSES), [("Content-Type", "text/plain")])
            return [b"injected fault"]
        if fault == "slow":
            time.sleep(plan.slow_s)  # the fault itself is the delay
        return self.app(environ, start_response)

    def _draw(self, plan: FaultPlan) -> str | None:
        with self._lock:
            if plan.seed is not None and plan.seed != self._seeded:
                self._rng.seed(plan.seed)
                self._seeded = plan.seed
            roll = self._rng.random()
        for name, rate in (("reset", plan.reset_rate), ("error", plan.error_rate), ("slow", plan.slow_rate)):
            if roll < rate:
                return name
            roll -= rate
        return None


def _drop(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer (the client sees a reset)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
