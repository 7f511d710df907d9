"""Which XQueue server the worker talks to, and the score it sends that server.

Two servers speak the pull protocol (README "Servers", ``shared/XQUEUE.md`` §10):

``xqueue``
    The legacy openedx/xqueue. put_result's body goes verbatim to the LMS callback, so any
    number is passed on. A pulled submission is hidden for SUBMISSION_PROCESSING_DELAY
    (1 minute by default).
``edx-submissions``
    The XQueue-compatible API inside edx-submissions, Open edX's successor. It records the
    score itself (``set_score``): release 4.0.2 stores ``round(score * points_possible)``;
    earlier 4.0 releases store ``score`` as integer points and discard anything else.
    The lease is fixed at 5 minutes.

``auto`` tells them apart by ``GET /xqueue/login/``: the legacy server answers
``1 "login_required"``, edx-submissions answers ``0 ""`` (it hands out the CSRF cookie).

The score modes (``ML_XQUEUE_SCORE``); error answers always send 0:

``fraction``  the trust score in [0, 1] (default for ``xqueue``)
``pass``      1 when the trust score is at least ``ML_XQUEUE_PASS_SCORE``, else 0 (default for
              ``edx-submissions``: every release stores it; 4.0.2 scales 1 to the problem's points)
``points``    ``round(trust score * ML_XQUEUE_MAX_POINTS)``, an integer
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

__all__ = ["FLAVOURS", "SCORE_MODES", "Flavour", "ScorePolicy", "detect", "lease_s"]


class Flavour(str, Enum):
    """The two XQueue servers."""

    XQUEUE = "xqueue"
    EDX = "edx-submissions"


FLAVOURS = ("auto", Flavour.XQUEUE.value, Flavour.EDX.value)
SCORE_MODES = ("auto", "fraction", "pass", "points")
_DEFAULT_SCORE = {Flavour.XQUEUE: "fraction", Flavour.EDX: "pass"}
_LEASE_S = {Flavour.XQUEUE: 60.0, Flavour.EDX: 300.0}


def detect(return_code: int, content: Any) -> Flavour | None:
    """The flavour that answers ``GET /xqueue/login/`` this way, or None if neither does."""
    if return_code == 1 and content == "login_required":
        return Flavour.XQUEUE
    if return_code == 0 and content in ("", None):
        return Flavour.EDX
    return None


def lease_s(flavour: Flavour, configured: float | None = None) -> float:
    """How long the server hides a pulled submission (``ML_XQUEUE_LEASE_S`` or its default)."""
    return configured if configured is not None else _LEASE_S[flavour]


@dataclass(frozen=True)
class ScorePolicy:
    """``ML_XQUEUE_SCORE`` and its two parameters."""

    mode: str = "auto"
    pass_score: float = 0.5
    max_points: int = 100

    def mode_for(self, flavour: Flavour) -> str:
        """The mode in force on ``flavour`` (``auto`` resolves per flavour)."""
        return _DEFAULT_SCORE[flavour] if self.mode == "auto" else self.mode

    def wire_score(self, result: Mapping[str, Any], flavour: Flavour) -> float | int:
        """The ``score`` of put_result for ``result`` on ``flavour``."""
        if result["error_code"] != 0:
            return 0
        trust = float(result["score"])
        mode = self.mode_for(flavour)
        if mode == "pass":
            return 1 if trust >= self.pass_score else 0
        if mode == "points":
            return int(round(trust * self.max_points))
        return trust

    def describe(self, flavour: Flavour) -> str:
        """The mode in words, for logs and the start-up line."""
        mode = self.mode_for(flavour)
        if mode == "pass":
            return f"pass (1 when the trust score >= {self.pass_score:g}, else 0)"
        if mode == "points":
            return f"points (trust score x {self.max_points}, rounded)"
        return "fraction (the trust score in [0, 1])"
