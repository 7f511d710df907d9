"""Logging set-up for the CLI, with a filter that keeps secrets out of every line.

Known secret values (passwords, client secrets) are registered at start-up; bearer tokens
and anything shaped like a JWT are masked by pattern, whoever logs them. Every line is cut to
a bounded length, so no input (a huge field, a server's reply) is ever logged in full.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Iterable

from ml_service.core.bounded import clamp

__all__ = ["RedactingFilter", "configure_logging"]

_LINE_CHARS, _TRACEBACK_CHARS = 4000, 20000  # a log line quotes at most this much of anything
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)((?:password|secret|token|sessionid|csrftoken)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;]+"),
    re.compile(r"(?i)((?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig)=)[^&\s\"']+"),
)


class RedactingFilter(logging.Filter):
    """Replaces secret values and token-shaped text in each record with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call must not crash its caller
            message = f"{record.msg} [unformattable arguments: {record.args!r}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(clamp(message, _LINE_CHARS)), None
        if record.exc_text:
            record.exc_text = self.redact(clamp(record.exc_text, _TRACEBACK_CHARS))
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once, from the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
