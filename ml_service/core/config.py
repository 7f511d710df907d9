"""Settings: read once from the environment (and a ``.env`` file), validated, frozen.

Every variable (also listed in the README's configuration table):

=========================  ========  ==============================================
variable                   default   meaning
=========================  ========  ==============================================
XQUEUE_URL                 required  XQueue base URL, e.g. http://localhost:18040
ML_XQUEUE_AUTH (_FILE)     required  XQueue user as ``user:password``
ML_XQUEUE_NAME             required  queue to pull from (e.g. ``webcam``)
ML_ANALYZER                required  dotted path of the handler's ``process``
PLATFORM_URL               required  platform base URL, e.g. http://localhost:8000
ML_CLIENT_ID               required  this service's registered client id
ML_CLIENT_SECRET (_FILE)   required  its client secret
ML_PLATFORM_TOKEN_PATH     /ml/auth/token  token endpoint path
ML_PLATFORM_EVENTS_PATH    /ml/events      status-event endpoint path
ML_XQUEUE_BASIC_AUTH (_FILE)  none   ``user:password`` for a proxy in front of XQueue
ML_XQUEUE_FLAVOUR          auto      ``xqueue`` (openedx/xqueue), ``edx-submissions``, or ``auto`` (detected)
ML_XQUEUE_SCORE            auto      score sent: ``fraction``, ``pass`` or ``points`` (auto: per flavour)
ML_XQUEUE_PASS_SCORE       0.5       ``pass``: the trust score at or above which 1 is sent
ML_XQUEUE_MAX_POINTS       100       ``points``: the trust score times this, rounded
ML_XQUEUE_LEASE_S          per flavour  the server's lease (xqueue 60, edx-submissions 300)
ML_SERVICE_NAME            ml-service-<queue>  name shown on the platform
ML_HTTP_TIMEOUT_S          10        timeout of ordinary HTTP calls
ML_PUT_RESULT_TIMEOUT_S    60        timeout of put_result (XQueue calls the LMS inside)
ML_POLL_INTERVAL_S         1         first wait after an empty queue
ML_POLL_MAX_INTERVAL_S     10        longest wait between polls of an empty queue
ML_BACKOFF_MAX_S           60        longest wait while a server is down
ML_HEARTBEAT_S             30        seconds between heartbeat events
ML_SHUTDOWN_GRACE_S        30        how long SIGTERM waits for the current job
ML_WORK_DIR                system tmp  where per-job media folders are made
ML_MEDIA_MAX_BYTES         4294967296  largest accepted media file
ML_MEDIA_ALLOWED_HOSTS     XQueue + platform hosts  hosts media may come from (comma list)
ML_VERIFY_TLS              true      verify HTTPS certificates
ML_STATE_DIR               ./state   where the journal (SQLite) lives; a volume in Docker
ML_HANDLER_ISOLATION       process   ``process`` (child process, limits) or ``inline`` (debugging)
ML_HANDLER_TIMEOUT_S       600       wall-clock limit of one job in the handler process
ML_HANDLER_MEMORY_MB       per modality  resident-memory cap of the handler process and its children
ML_INFLIGHT_ON_START       rerun     jobs a killed worker left: ``rerun`` or ``fail`` (error answer)
ML_MAX_RUNS                3         an interrupted job is re-run at most this many times in all
ML_MEDIA_TIMEOUT_S         30        download timeout (connect and between bytes)
ML_MEDIA_DEADLINE_S        900       longest time one media file's download may take (all attempts)
ML_MEDIA_MAX_DURATION_S    per modality  longest accepted recording (s): audio 9000, others 14400
ML_METRICS_PORT            9400      /metrics and /healthz port: N, a range N-M (first free), or 0 (off)
ML_METRICS_ADDR            0.0.0.0   address the metrics server binds
ML_LOG_LEVEL               INFO      DEBUG, INFO, WARNING, ERROR
ML_LOG_FORMAT              text      ``text`` or ``json``
=========================  ========  ==============================================

A secret may instead be read from the file named by ``<NAME>_FILE`` (Docker secrets).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from dotenv import dotenv_values

from ml_service.core.errors import ConfigError
from ml_service.core.flavour import FLAVOURS, SCORE_MODES, Flavour, ScorePolicy
from ml_service.core.metrics import parse_ports

__all__ = ["Secret", "Settings", "load_environ"]

# Resident-memory caps of the handler process by queue (MB); others get 2048.
MEMORY_DEFAULTS_MB = {"webcam": 2048.0, "screencast": 1536.0, "audio": 1536.0, "keystrokes": 512.0, "debug": 512.0}
# Longest accepted recording by queue (s); others get 4 h. The audio handler holds the whole
# recording: 3 h of (generated) audio peaked at 1.53 GB against its 1.5 GB cap.
DURATION_DEFAULTS_S = {"audio": 9000.0}
SECRET_VARS = ("ML_XQUEUE_AUTH", "ML_CLIENT_SECRET", "ML_XQUEUE_BASIC_AUTH")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Secret:
    """A string that never shows itself in ``repr``/``str``; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def load_environ(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """Merge a ``.env`` file under the real environment (the environment wins)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(environ)
    return merged


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one worker."""

    xqueue_url: str
    xqueue_user: str
    xqueue_password: Secret
    queue_name: str
    analyzer: str
    platform_url: str
    client_id: str
    client_secret: Secret
    token_path: str = "/ml/auth/token"
    events_path: str = "/ml/events"
    xqueue_basic_auth: tuple[str, Secret] | None = None
    xqueue_flavour: Flavour | None = None  # None: auto
    score_policy: ScorePolicy = ScorePolicy()
    xqueue_lease_s: float | None = None  # None: the flavour's default
    service_name: str = ""
    http_timeout_s: float = 10.0
    put_result_timeout_s: float = 60.0
    poll_interval_s: float = 1.0
    poll_max_interval_s: float = 10.0
    backoff_max_s: float = 60.0
    heartbeat_s: float = 30.0
    shutdown_grace_s: float = 30.0
    work_dir: Path = Path(tempfile.gettempdir())
    media_max_bytes: int = 4 * 1024**3
    media_allowed_hosts: frozenset[str] = frozenset()
    verify_tls: bool = True
    log_level: str = "INFO"
    log_format: str = "text"
    state_dir: Path = Path("state")
    handler_isolation: str = "process"
    handler_timeout_s: float = 600.0
    handler_memory_mb: float = 2048.0
    rerun_interrupted: bool = True
    max_runs: int = 3
    media_timeout_s: float = 30.0
    media_deadline_s: float = 900.0
    media_max_duration_s: float = 14400.0
    metrics_ports: tuple[int, ...] = (9400,)
    metrics_addr: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes the pod's address

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ``; raise :class:`ConfigError` listing every problem."""
        reader = _Reader(environ)
        values = _read_all(reader)
        if reader.problems:
            raise ConfigError(reader.problems)
        return cls(**values)

    def public_view(self) -> dict[str, Any]:
        """Every setting as printable text, secrets masked."""
        view = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = ",".join(sorted(value))
            elif f.name == "xqueue_basic_auth" and value is not None:
                value = f"{value[0]}:***"
            elif f.name == "xqueue_flavour":
                value = value.value if value is not None else "auto"
            elif f.name == "xqueue_lease_s" and value is None:
                value = "per flavour"
            elif f.name == "metrics_ports":
                value = f"{value[0]}-{value[-1]}" if len(value) > 1 else (str(value[0]) if value else "off")
            view[f.name] = "***" if isinstance(value, Secret) else str(value)
        return view


def _read_all(r: _Reader) -> dict[str, Any]:
    xqueue_url = r.url("XQUEUE_URL")
    platform_url = r.url("PLATFORM_URL")
    user, password = r.pair("ML_XQUEUE_AUTH", required=True) or ("", Secret(""))
    queue = r.text("ML_XQUEUE_NAME", required=True)
    basic = r.pair("ML_XQUEUE_BASIC_AUTH", required=False)
    hosts = r.text("ML_MEDIA_ALLOWED_HOSTS", required=False)
    default_hosts = {urlsplit(u).hostname or "" for u in (xqueue_url, platform_url) if u}
    return {
        "xqueue_url": xqueue_url,
        "xqueue_user": user,
        "xqueue_password": password,
        "queue_name": queue,
        "analyzer": r.dotted("ML_ANALYZER"),
        "platform_url": platform_url,
        "client_id": r.text("ML_CLIENT_ID", required=True),
        "client_secret": Secret(r.secret("ML_CLIENT_SECRET", required=True) or ""),
        "token_path": r.path("ML_PLATFORM_TOKEN_PATH", "/ml/auth/token"),
        "events_path": r.path("ML_PLATFORM_EVENTS_PATH", "/ml/events"),
        "xqueue_basic_auth": basic,
        **_read_xqueue_server(r),
        "service_name": r.text("ML_SERVICE_NAME", required=False) or f"ml-service-{queue}",
        "http_timeout_s": r.number("ML_HTTP_TIMEOUT_S", 10.0),
        "put_result_timeout_s": r.number("ML_PUT_RESULT_TIMEOUT_S", 60.0),
        "poll_interval_s": r.number("ML_POLL_INTERVAL_S", 1.0),
        "poll_max_interval_s": r.number("ML_POLL_MAX_INTERVAL_S", 10.0),
        "backoff_max_s": r.number("ML_BACKOFF_MAX_S", 60.0),
        "heartbeat_s": r.number("ML_HEARTBEAT_S", 30.0),
        "shutdown_grace_s": r.number("ML_SHUTDOWN_GRACE_S", 30.0),
        "work_dir": r.directory("ML_WORK_DIR", Path(tempfile.gettempdir())),
        "media_max_bytes": r.integer("ML_MEDIA_MAX_BYTES", 4 * 1024**3),
        "media_allowed_hosts": frozenset(_split(hosts) if hosts else default_hosts - {""}),
        "verify_tls": r.boolean("ML_VERIFY_TLS", True),
        "log_level": r.choice("ML_LOG_LEVEL", _LOG_LEVELS, "INFO"),
        "log_format": r.choice("ML_LOG_FORMAT", ("TEXT", "JSON"), "TEXT").lower(),
        "state_dir": Path(r.text("ML_STATE_DIR", required=False) or "state"),
        "handler_isolation": r.choice("ML_HANDLER_ISOLATION", ("PROCESS", "INLINE"), "PROCESS").lower(),
        "handler_timeout_s": r.number("ML_HANDLER_TIMEOUT_S", 600.0),
        "handler_memory_mb": r.number("ML_HANDLER_MEMORY_MB", MEMORY_DEFAULTS_MB.get(queue or "", 2048.0)),
        "rerun_interrupted": r.choice("ML_INFLIGHT_ON_START", ("RERUN", "FAIL"), "RERUN") == "RERUN",
        "max_runs": r.integer("ML_MAX_RUNS", 3),
        "media_timeout_s": r.number("ML_MEDIA_TIMEOUT_S", 30.0),
        "media_deadline_s": r.number("ML_MEDIA_DEADLINE_S", 900.0),
        "media_max_duration_s": r.number("ML_MEDIA_MAX_DURATION_S", DURATION_DEFAULTS_S.get(queue or "", 14400.0)),
        "metrics_ports": r.ports("ML_METRICS_PORT", (9400,)),
        "metrics_addr": r.text("ML_METRICS_ADDR", required=False) or "0.0.0.0",  # noqa: S104
    }


def _read_xqueue_server(r: _Reader) -> dict[str, Any]:
    """Which XQueue server it is, the score it stores, and its lease."""
    flavour = r.choice("ML_XQUEUE_FLAVOUR", tuple(f.upper() for f in FLAVOURS), "AUTO").lower()
    mode = r.choice("ML_XQUEUE_SCORE", tuple(m.upper() for m in SCORE_MODES), "AUTO").lower()
    pass_score = r._convert("ML_XQUEUE_PASS_SCORE", 0.5, float, lambda v: 0 < v <= 1, "a number in (0, 1]")
    lease = r.number("ML_XQUEUE_LEASE_S", 0.0)
    return {
        "xqueue_flavour": None if flavour == "auto" else Flavour(flavour),
        "score_policy": ScorePolicy(mode, pass_score, r.integer("ML_XQUEUE_MAX_POINTS", 100)),
        "xqueue_lease_s": lease or None,
    }


def _split(text: str) -> set[str]:
    return {part.strip().lower() for part in text.split(",") if part.strip()}


class _Reader:
    """Reads and checks variables one by one, collecting every problem."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.problems: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, required: bool) -> str | None:
        value = self._raw(name)
        if value is None and required:
            self.problems.append(f"{name}: required but not set")
        return value

    def secret(self, name: str, required: bool) -> str | None:
        direct, file_name = self._raw(name), self._raw(f"{name}_FILE")
        if direct is not None and file_name is not None:
            self.problems.append(f"{name}: set both {name} and {name}_FILE; keep one")
            return None
        if file_name is not None:
            try:
                return Path(file_name).read_text("utf-8").strip() or self._empty(f"{name}_FILE")
            except OSError as exc:
                self.problems.append(f"{name}_FILE: cannot read {file_name}: {exc.strerror}")
                return None
        if direct is None and required:
            self.problems.append(f"{name}: required but not set (or set {name}_FILE)")
        return direct

    def _empty(self, name: str) -> None:
        self.problems.append(f"{name}: the file is empty")
        return None

    def pair(self, name: str, required: bool) -> tuple[str, Secret] | None:
        value = self.secret(name, required)
        if value is None:
            return None
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            self.problems.append(f"{name}: expected 'user:password'")
            return None
        return user, Secret(password)

    def url(self, name: str) -> str:
        value = self.text(name, required=True)
        if value is None:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problems.append(f"{name}: expected an http(s) URL, got {value!r}")
            return ""
        return value.rstrip("/")

    def path(self, name: str, default: str) -> str:
        value = self._raw(name) or default
        if not value.startswith("/"):
            self.problems.append(f"{name}: expected a path starting with '/', got {value!r}")
        return value

    def dotted(self, name: str) -> str:
        value = self.text(name, required=True) or ""
        parts = value.replace(":", ".").split(".")
        if value and (len(parts) < 2 or not all(p.isidentifier() for p in parts)):
            self.problems.append(f"{name}: expected a dotted path like handlers.debug.debug.process")
        return value

    def number(self, name: str, default: float) -> float:
        return self._convert(name, default, float, lambda v: 0 < v < math.inf, "a positive number")

    def integer(self, name: str, default: int) -> int:
        return self._convert(name, default, int, lambda v: v > 0, "a positive number without a fraction")

    def boolean(self, name: str, default: bool) -> bool:
        table = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
        return self._convert(name, default, lambda v: table[v.lower()], lambda v: True, "true or false")

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        return self._convert(name, default, str.upper, lambda v: v in allowed, " or ".join(allowed))

    def ports(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            return parse_ports(raw)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return default

    def directory(self, name: str, default: Path) -> Path:
        return self._convert(name, default, Path, os.path.isdir, "an existing directory")

    def _convert(self, name: str, default: Any, parse: Callable[[str], Any],
                 ok: Callable[[Any], bool], expected: str) -> Any:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = parse(raw)
        except (ValueError, KeyError):
            value = None
        if value is None or not ok(value):
            self.problems.append(f"{name}: expected {expected}, got {raw!r}")
            return default
        return value
