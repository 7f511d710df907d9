"""The one exception tree of ml-service.

Every error the worker reacts to is a subclass of :class:`MLServiceError`::

    MLServiceError
    ├── ConfigError            bad or missing settings (start-up refuses to run)
    ├── TransportError         a server could not be reached or answered garbage HTTP
    ├── AuthError              credentials refused (XQueue login, platform token)
    ├── ProtocolError          a reply that breaks the XQueue / platform contract
    │   ├── LeaseLostError     put_result refused: "Incorrect key for submission"
    │   └── UnanswerableError  a pulled submission whose header gives no usable id and key
    ├── SubmissionError        a pulled submission we cannot analyse (bad JSON, fields)
    │   └── MediaError         media could not be downloaded or is unacceptable
    ├── HandlerLoadError       ML_ANALYZER cannot be imported or is not callable
    ├── HandlerError           the handler raised or returned a bad result
    └── Retry                  raised by a handler to ask for a later retry

Clients raise these (never return ``(ok, value)`` tuples); library exceptions are
translated in the client that met them, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "HandlerError",
    "HandlerLoadError",
    "LeaseLostError",
    "MLServiceError",
    "MediaError",
    "ProtocolError",
    "Retry",
    "SubmissionError",
    "TransportError",
    "UnanswerableError",
]


class MLServiceError(Exception):
    """Base class of every error ml-service raises on purpose."""


class ConfigError(MLServiceError):
    """Invalid configuration; ``problems`` lists every bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))


class TransportError(MLServiceError):
    """A server was unreachable, timed out or answered with an unusable HTTP reply.

    ``status`` is the HTTP status of a server error (None when no answer came).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class AuthError(MLServiceError):
    """The server refused our credentials (even after one fresh login)."""


class ProtocolError(MLServiceError):
    """The server answered, but not in the shape the protocol promises."""


class LeaseLostError(ProtocolError):
    """XQueue refused the result key: the submission was re-offered to another pull.

    ``graded``: edx-submissions answered HTTP 500, as it does to an answer for a submission
    already graded (with the same key: a lapsed lease does not change it).
    """

    def __init__(self, message: str, graded: bool = False) -> None:
        self.graded = graded
        super().__init__(message)


class UnanswerableError(ProtocolError):
    """get_submission handed out something we cannot answer (no usable id or key).

    ``fingerprint`` identifies it across re-offers (the key changes, the content does not),
    so the worker reports it once, not on every re-offer.
    """

    def __init__(self, message: str, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        super().__init__(message)


class SubmissionError(MLServiceError):
    """A pulled submission cannot be analysed as sent (malformed body, missing fields)."""


class MediaError(SubmissionError):
    """A media file could not be fetched, or broke a size/host/name rule."""


class HandlerLoadError(MLServiceError):
    """The dotted path in ML_ANALYZER does not lead to a usable function."""


class HandlerError(MLServiceError):
    """The handler failed on one submission (raised, timed out, returned garbage)."""

    def __init__(self, message: str, error_code: int) -> None:
        self.error_code = error_code
        super().__init__(message)


class Retry(MLServiceError):
    """Raised by a handler to ask that the submission be tried again later."""

    def __init__(self, message: str = "handler asked for a retry", delay_s: float = 30.0) -> None:
        self.delay_s = delay_s
        super().__init__(message)
