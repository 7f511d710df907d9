"""Handler isolation: the handler runs in a child process that is reused across jobs.

The child imports the handler once (models load once) and answers one job at a time over a
pipe. The parent enforces a wall-clock timeout and a memory cap (resident set size of the
child and of the processes it starts, read from ``/proc`` while it waits) and kills the child
when either is exceeded. Whatever the — raise, hang, eat memory, segfault, return garbage — the parent turns it into a
:class:`HandlerError` with its own error code, and the next job gets a fresh child.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ml_service.core.bounded import clamp
from ml_service.core.errors import HandlerError, HandlerLoadError, Retry
from ml_service.core.handlers import check_returned, load_handler
from ml_service.core.results import ErrorCode

__all__ = ["IsolatedHandler", "ProcessTree", "die_with_parent"]

logger = logging.getLogger(__name__)

_CTX = multiprocessing.get_context("spawn")
_POLL_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask Linux to kill this process when its parent dies (a SIGKILLed worker leaves no orphan).

    A parent that died before this call sends no signal: given its ``parent_pid``, this
    process then exits at once instead of living on as an orphan.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _child_main(path: str, conn: Connection, parent_pid: int | None = None) -> None:
    """Child process: load the handler once, then serve jobs until the pipe closes."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # The worker starts this child as a daemon (it must not outlive the worker), but a handler
    # may start processes of its own (the webcam's segments), which multiprocessing refuses
    # to a daemon: here, inside the child, the flag has done its job.
    multiprocessing.current_process().daemon = False
    try:
        handler = load_handler(path)
    except HandlerLoadError as exc:
        conn.send(("load_error", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            submission = conn.recv()
        except EOFError:
            return
        conn.send(_serve(handler, submission))


def _serve(handler: Any, submission: dict[str, Any]) -> tuple[str, Any]:
    try:
        return ("ok", check_returned(handler(submission)))
    except Retry as exc:
        return ("retry", (str(exc), exc.delay_s))
    except HandlerError as exc:
        return ("error", (exc.error_code, str(exc)))
    except MemoryError:
        return ("error", (int(ErrorCode.OUT_OF_MEMORY), "handler ran out of memory (MemoryError)"))
    except Exception as exc:  # noqa: BLE001 - every handler failure becomes an answer
        return ("error", (int(ErrorCode.HANDLER_RAISED), clamp(f"handler raised {type(exc).__name__}: {exc}")))


class IsolatedHandler:
    """Callable like a handler; runs it in a supervised, reusable child process."""

    def __init__(self, path: str, timeout_s: float = 600.0, memory_mb: float = 2048.0,
                 start_timeout_s: float = 300.0) -> None:
        self.path, self.timeout_s, self.memory_mb = path, timeout_s, memory_mb
        self.start_timeout_s = start_timeout_s
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.children_started = 0

    def start(self) -> None:
        """Start the child and wait until the handler is imported; HandlerLoadError if not."""
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(target=_child_main, args=(self.path, child, os.getpid()), daemon=True,
                            name=f"handler:{self.path}")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self.children_started += 1
        if not parent.poll(self.start_timeout_s):
            self.stop()
            raise HandlerLoadError(f"handler {self.path} did not load within {self.start_timeout_s:.0f} s")
        try:
            kind, detail = parent.recv()
        except EOFError:
            code = proc.exitcode
            self.stop()
            raise HandlerLoadError(f"handler process for {self.path} died while loading (exit {code})") from None
        if kind == "load_error":
            self.stop()
            raise HandlerLoadError(detail)
        logger.info("Handler %s loaded in child process %s", self.path, proc.pid)

    def stop(self) -> None:
        """Kill the child (if any) and forget it."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)

    def __call__(self, submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Run one job in the child; raise HandlerError (or Retry) for every failure."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self.start()
            assert self._conn is not None and self._proc is not None
            self._conn.send(submission)
            kind, detail = self._wait(self._proc, self._conn, submission.get("submission_id"))
        if kind == "ok":
            return detail
        if kind == "retry":
            raise Retry(detail[0], delay_s=detail[1])
        raise HandlerError(detail[1], detail[0])

    def _wait(self, proc: Any, conn: Connection, sid: Any) -> tuple[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        tree = ProcessTree(proc.pid)
        while not conn.poll(_POLL_S):
            if not proc.is_alive():
                return self._died(proc, sid)
            if time.monotonic() > deadline:
                self.stop()
                return ("error", (int(ErrorCode.TIMEOUT),
                                  f"handler exceeded the {self.timeout_s:.0f} s time limit (ML_HANDLER_TIMEOUT_S)"))
            rss_mb = tree.rss_mb()
            if rss_mb > self.memory_mb:
                tree.kill_descendants()
                self.stop()
                return ("error", (int(ErrorCode.OUT_OF_MEMORY),
                                  f"handler used {rss_mb:.0f} MB (with its child processes), over the "
                                  f"{self.memory_mb:.0f} MB cap (ML_HANDLER_MEMORY_MB)"))
        try:
            return conn.recv()
        except (EOFError, OSError):
            return self._died(proc, sid)

    def _died(self, proc: Any, sid: Any) -> tuple[str, Any]:
        proc.join(5)
        code = proc.exitcode
        self.stop()
        logger.warning("Handler process died on submission %s (exit code %s); starting a fresh one", sid, code)
        if code == -9:
            return ("error", (int(ErrorCode.OUT_OF_MEMORY), "handler process was killed (SIGKILL, likely out of memory)"))
        detail = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return ("error", (int(ErrorCode.HANDLER_CRASHED), f"handler process crashed ({detail})"))


class ProcessTree:
    """A process and its descendants (ffmpeg, segment workers...), for the memory cap.

    The descendants are found by scanning ``/proc`` for parent ids at most every
    ``refresh_s``; the resident sizes of the known members are read at every call.
    """

    def __init__(self, pid: int, refresh_s: float = 1.0) -> None:
        self.pid, self.refresh_s = pid, refresh_s
        self._members: list[int] = [pid]
        self._found_at = float("-inf")

    def members(self) -> list[int]:
        """The root and its descendants (refreshed when stale)."""
        now = time.monotonic()
        if now - self._found_at >= self.refresh_s:
            self._members, self._found_at = [self.pid, *_descendants(self.pid)], now
        return self._members

    def rss_mb(self) -> float:
        """Summed resident set size in MB (shared pages count once per process: an upper bound)."""
        return sum(_rss_mb(pid) for pid in self.members())

    def kill_descendants(self) -> None:
        for pid in self.members()[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _descendants(root: int) -> list[int]:
    """Pids whose chain of parents leads to ``root`` (from ``/proc/<pid>/stat``)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    # the 4th field, after the command in parentheses (which may hold spaces)
                    parents[int(entry.name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0
