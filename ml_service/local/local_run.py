"""One modality of a local session, run through its handler exactly as the worker runs it.

The handler gets the worker's input dict (:func:`ml_service.samples.truth.handler_input`,
``docs/contracts.md`` §2) in a fresh work folder, and runs in the worker's supervised child
process with a time limit and a memory cap (:class:`ml_service.core.isolation.IsolatedHandler`).
A request to retry is honoured up to :data:`MAX_RETRIES` times, as the worker does. Every
failure becomes an error result with its ``error_code``, so :func:`execute` never raises for
the handler. When the modality's own handler cannot be loaded (not installed), the debug
handler runs instead and :attr:`Run.note` says so, unless the handler was named explicitly.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from ml_service.core.config import MEMORY_DEFAULTS_MB
from ml_service.core.errors import HandlerError, HandlerLoadError, Retry
from ml_service.core.handlers import run_handler
from ml_service.core.isolation import IsolatedHandler
from ml_service.core.results import ErrorCode, error_result, validate_result
from ml_service.samples.truth import Sample, handler_input

__all__ = ["FALLBACK_HANDLER", "MAX_RETRIES", "Run", "Session", "default_handler", "execute"]

FALLBACK_HANDLER = "handlers.debug.debug.process"
MAX_RETRIES = 2
_OPTIONS = {"ML_HANDLER_TIMEOUT_S": "--timeout", "ML_HANDLER_MEMORY_MB": "--memory-mb", "ML_ANALYZER=": "handler "}


def default_handler(modality: str) -> str:
    """The handler the worker of that modality's queue runs."""
    return f"handlers.{modality}.{modality}.process"


@dataclass
class Run:
    """One modality of the session: its recordings, its handler and, once run, its result."""

    modality: str
    recordings: list[Path]
    handler: str
    explicit: bool = False  # named by --handler: no fallback
    note: str | None = None
    result: dict[str, Any] | None = None
    msg: str = ""


@dataclass(frozen=True)
class Session:
    """What every modality's handler input shares."""

    session_id: str
    submission_id: int
    options: dict[str, Any]
    references: dict[str, Path]

    def handler_input(self, run: Run, work_dir: Path) -> dict[str, Any]:
        """The worker's handler dict (docs/contracts.md §2) for ``run``'s recordings."""
        sample = Sample(name=self.session_id, modality=run.modality, recordings=run.recordings,
                        duration_s=0.0, truth=[], options=self.options,
                        reference_photo=self.references.get("reference_photo"),
                        reference_voice=self.references.get("reference_voice"))
        return handler_input(sample, work_dir, submission_id=self.submission_id)


def execute(run: Run, session: Session, timeout_s: float, memory_mb: float | None) -> None:
    """Run one modality's handler in a child process; set ``run.result`` (never raises for it)."""
    memory = memory_mb or MEMORY_DEFAULTS_MB.get(run.modality, 2048.0)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"analyze-{run.modality}-") as work_dir:
        submission = session.handler_input(run, Path(work_dir))
        try:
            result, run.msg = _analyse(run, submission, timeout_s, memory)
        except HandlerError as exc:
            run.msg = _cli_words(str(exc))
            result = error_result(run.modality, ErrorCode(exc.error_code), run.msg, time.monotonic() - started)
    ids = {"submission_id": submission["submission_id"], "session_id": submission["session_id"]}
    problems = validate_result({**result, **ids})
    if problems:  # a checked result cannot break the schema; kept so that result.json always validates
        result = error_result(run.modality, ErrorCode.INVALID_RESULT, "; ".join(problems[:5]))
    run.result = {**result, **ids}


def _analyse(run: Run, submission: dict[str, Any], timeout_s: float, memory_mb: float) -> tuple[dict[str, Any], str]:
    try:
        handler = _start(run, timeout_s, memory_mb)
    except HandlerLoadError as exc:
        raise HandlerError(str(exc), ErrorCode.HANDLER_LOAD) from exc
    try:
        with _ticking(run.modality):
            return _call(handler, submission)
    finally:
        handler.stop()


def _cli_words(message: str) -> str:
    """The worker's messages name its settings; here the same limits are command-line options."""
    for setting, option in _OPTIONS.items():
        message = message.replace(setting, option)
    return message


def _start(run: Run, timeout_s: float, memory_mb: float) -> IsolatedHandler:
    """The run's handler, started; the debug handler when the modality's own cannot be loaded."""
    handler = IsolatedHandler(run.handler, timeout_s=timeout_s, memory_mb=memory_mb)
    try:
        handler.start()
        return handler
    except HandlerLoadError as exc:
        if run.explicit or run.handler == FALLBACK_HANDLER:
            raise
        run.note = (f"{run.handler} could not be loaded ({_cli_words(str(exc))}); ran {FALLBACK_HANDLER} instead, "
                    "which only describes the media and finds no violation.")
        run.handler = FALLBACK_HANDLER
    fallback = IsolatedHandler(FALLBACK_HANDLER, timeout_s=timeout_s, memory_mb=memory_mb)
    fallback.start()
    return fallback


def _call(handler: IsolatedHandler, submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Call the handler; honour up to :data:`MAX_RETRIES` requests to retry, as the worker does."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return run_handler(handler, submission)
        except Retry as exc:
            if attempt == MAX_RETRIES:
                raise HandlerError(f"handler asked for a retry {attempt + 1} time(s): {exc}",
                                   ErrorCode.HANDLER_RAISED) from exc
            tqdm.write(f"analyze: handler asks to retry in {exc.delay_s:.0f} s: {exc}", file=sys.stderr)
            threading.Event().wait(exc.delay_s)
    raise AssertionError("unreachable")


@contextmanager
def _ticking(label: str) -> Iterator[None]:
    """An elapsed-time line on stderr while a handler works (only on a terminal)."""
    done = threading.Event()
    with tqdm(desc=f"{label}: handler running", bar_format="{desc} {elapsed}", disable=None, leave=False) as bar:
        ticker = threading.Thread(target=_tick, args=(bar, done), daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()


def _tick(bar: tqdm, done: threading.Event) -> None:
    while not done.wait(0.5):
        bar.refresh()
