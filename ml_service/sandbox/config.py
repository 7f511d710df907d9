"""Settings of the sandbox: :class:`SandboxConfig`, and reading it from a JSON file.

The sandbox is a local stand-in for an XQueue server and the proctoring platform; every
knob that a test or the demo needs to turn lives here. ``clock`` is injectable so lease
expiry, token expiry and staleness can be tested without sleeping.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from ml_service.core.errors import ConfigError
from ml_service.sandbox.callback import is_loopback_host

__all__ = ["DEFAULT_QUEUES", "SandboxConfig", "load_config_file"]

DEFAULT_QUEUES = ("debug", "webcam", "screencast", "audio", "keystrokes")
_QUEUE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_FILE_KEYS = {
    "state_dir", "host", "xqueue_port", "platform_port", "users", "queues", "clients",
    "processing_delay_s", "token_ttl_s", "stale_after_s", "flavour", "edx_score",
}
FLAVOURS = ("xqueue", "edx-submissions")
EDX_SCORES = ("scaled", "integer")
_LEASE_S = {"xqueue": 60.0, "edx-submissions": 300.0}


@dataclass
class SandboxConfig:
    """Where the sandbox keeps its state, where it listens, and who may use it."""

    state_dir: Path
    host: str = "127.0.0.1"
    xqueue_port: int = 18040  # 0 = pick a free port
    platform_port: int = 8000  # 0 = pick a free port
    users: dict[str, str] = field(default_factory=lambda: {"ml_service": "ml_password"})
    queues: list[str] = field(default_factory=lambda: list(DEFAULT_QUEUES))
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> secret
    processing_delay_s: float | None = None  # None: the flavour's (60 s xqueue, 300 s edx-submissions)
    token_ttl_s: float = 3600.0
    stale_after_s: float = 90.0
    clock: Callable[[], float] = time.time
    callback_attempts: int = 5
    callback_timeout_s: float = 5.0
    max_failures: int = 3
    flavour: str = "xqueue"  # or "edx-submissions": which server /xqueue/ behaves like
    edx_score: str = "scaled"  # edx-submissions 4.0.2 (score x points_possible) or "integer" (before)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def __repr__(self) -> str:
        users = ", ".join(f"{name}=***" for name in self.users)
        return (
            f"SandboxConfig(state_dir={str(self.state_dir)!r}, host={self.host!r}, "
            f"xqueue_port={self.xqueue_port}, platform_port={self.platform_port}, "
            f"users=[{users}], queues={self.queues!r}, clients={sorted(self.clients)!r}, "
            f"flavour={self.flavour!r})"
        )

    @property
    def lease_s(self) -> float:
        """How long a pulled submission stays hidden."""
        return _LEASE_S.get(self.flavour, 60.0) if self.processing_delay_s is None else self.processing_delay_s

    def problems(self) -> list[str]:
        """Every invalid setting, as readable text (empty = valid)."""
        found = [f"queue name {q!r} is not a simple name" for q in self.queues
                 if not isinstance(q, str) or not _QUEUE_RE.match(q)]
        if not is_loopback_host(self.host):
            found.append(f"host {self.host!r}: the sandbox serves on loopback only "
                         "(127.0.0.1, ::1 or localhost)")
        if not self.queues:
            found.append("queues: at least one queue is needed")
        if not self.users or not all(isinstance(u, str) and u and isinstance(p, str) and p
                                     for u, p in self.users.items()):
            found.append("users: need at least one user, with non-empty name and password")
        if not all(isinstance(c, str) and c and isinstance(s, str) and s
                   for c, s in self.clients.items()):
            found.append("clients: every client needs a non-empty id and secret")
        for name in ("xqueue_port", "platform_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 <= port <= 65535:
                found.append(f"{name}: {port!r} is not a port number")
        if self.xqueue_port == self.platform_port != 0:
            found.append(f"xqueue_port and platform_port are both {self.xqueue_port}")
        if self.flavour not in FLAVOURS:
            found.append(f"flavour {self.flavour!r}: expected one of {', '.join(FLAVOURS)}")
        if self.edx_score not in EDX_SCORES:
            found.append(f"edx_score {self.edx_score!r}: expected one of {', '.join(EDX_SCORES)}")
        if self.processing_delay_s is not None and (not _is_number(self.processing_delay_s)
                                                    or self.processing_delay_s < 0):
            found.append("processing_delay_s must be a number >= 0")
        for name in ("callback_timeout_s", "max_failures"):
            if not _is_number(getattr(self, name)) or getattr(self, name) < 0:
                found.append(f"{name} must be a number >= 0")
        for name in ("token_ttl_s", "stale_after_s", "callback_attempts"):
            if not _is_number(getattr(self, name)) or getattr(self, name) <= 0:
                found.append(f"{name} must be a number > 0")
        return found


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a ``sandbox.json``: an object whose keys are :class:`SandboxConfig` fields."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{path}: cannot read JSON ({exc})"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: must hold a JSON object"])
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        allowed = ", ".join(f.name for f in fields(SandboxConfig) if f.name in _FILE_KEYS)
        raise ConfigError([f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}"])
    return data
