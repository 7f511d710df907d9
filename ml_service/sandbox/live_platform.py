"""The platform's side of a live session, played against the sandbox.

:class:`LiveSession` is what a proctoring platform does while an exam is recorded: submit each
segment as it is ready (``segment``: index, offset on the session timeline, last), with the
carry of the answers received so far (:class:`~ml_service.local.live_local.CarryKeeper`: each
answer's ``result.carry`` is kept unless another one holds every segment it holds), and read
the answers as XQueue delivers them to the callback. The reference photo / voice go with the
first segment as files; later segments name them by URL (``media_urls``), so they are
uploaded once. The last segment waits for the earlier segments' answers, so that its answer
covers the whole session. The demo (``demo --live``), the latency bench and the end-to-end test use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ml_service.local.live_local import CarryKeeper
from ml_service.sandbox import Sandbox

__all__ = ["LiveSession", "KEEPER"]

KEEPER = object()  # "send what the keeper holds" (the default carry)


class LiveSession:
    """One session being recorded: its segments submitted, its answers collected."""

    def __init__(self, sandbox: Sandbox, queue: str, session_id: str, modality: str | None = None,
                 options: Mapping[str, Any] | None = None, references: Mapping[str, Path] | None = None) -> None:
        self.sandbox, self.queue, self.session_id = sandbox, queue, session_id
        self.modality, self.options = modality or queue, dict(options or {})
        self.references = dict(references or {})  # body key (reference_photo/voice) -> file
        self.keeper = CarryKeeper()
        self.answers: dict[int, list[dict[str, Any]]] = {}
        self.submitted: dict[int, float] = {}  # segment index -> time.time() of its (last) upload
        self.received: dict[int, float] = {}  # segment index -> when its first answer was read
        self._ref_urls: dict[str, str] = {}
        self._seen_rows = 0
        self._lock = threading.Lock()

    def body(self, index: int, offset_s: float, recordings: list[str], last: bool, carry: Any) -> dict[str, Any]:
        """The ``xqueue_body`` of one segment (``docs/contracts.md`` §5)."""
        body: dict[str, Any] = {"session_id": self.session_id, "modality": self.modality, "options": self.options,
                                "recordings": recordings,
                                "segment": {"index": index, "offset_s": round(offset_s, 3), "last": last,
                                            "carry": self.keeper.current() if carry is KEEPER else carry}}
        for key, path in self.references.items():
            body[key] = f"reference-{path.name}"
        if self._ref_urls:
            body["media_urls"] = dict(self._ref_urls)
        return body

    def submit(self, index: int, offset_s: float, files: Mapping[str, Path], last: bool = False,
               carry: Any = KEEPER, wait_before_last_s: float = 120.0) -> int:
        """Upload one segment (its files, and the references the first time); its submission id.

        The last segment waits (at most ``wait_before_last_s``) for the answers of the segments
        before it, so that its carry holds them all and its answer the whole session."""
        if last and carry is KEEPER:
            self._wait_for_earlier(index, wait_before_last_s)
        with self._lock:
            self.poll()
            body = self.body(index, offset_s, list(files), last, carry)
            upload = dict(files)
            if not self._ref_urls:
                upload.update({f"reference-{p.name}": p for p in self.references.values()})
            submission_id = self.sandbox.submit_session(self.queue, body, upload)
            if self.references and not self._ref_urls:
                urls = self.sandbox.media_urls(submission_id)
                self._ref_urls = {f"reference-{p.name}": urls[f"reference-{p.name}"] for p in self.references.values()}
            self.submitted[index] = time.time()
        return submission_id

    def _wait_for_earlier(self, index: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self.poll()
                if all(i in self.answers for i in self.submitted if i < index):
                    return
            threading.Event().wait(0.05)

    def refresh(self) -> list[dict[str, Any]]:
        """:meth:`poll`, safe beside a thread that submits."""
        with self._lock:
            return self.poll()

    def poll(self) -> list[dict[str, Any]]:
        """Answers delivered since the last call (their carries kept); each is the reply body."""
        rows = self.sandbox.results()
        new = [r for r in rows[self._seen_rows:] if r["session_id"] == self.session_id]
        self._seen_rows = len(rows)
        for row in new:
            body = row["body"]
            result = body.get("result") if isinstance(body, dict) else None
            live = (result or {}).get("live") or {}
            if "index" not in live:
                continue
            self.answers.setdefault(live["index"], []).append(body)
            self.received.setdefault(live["index"], _epoch(row["received"]))
            self.keeper.add(result.get("carry"))
        return [r["body"] for r in new]

    def wait(self, index: int, count: int = 1, timeout_s: float = 300.0) -> dict[str, Any]:
        """The ``count``-th answer of segment ``index`` (waits for XQueue to deliver it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self.poll()
                if len(self.answers.get(index, [])) >= count:
                    return self.answers[index][count - 1]
            threading.Event().wait(0.1)
        raise TimeoutError(f"no answer {count} for segment {index} of {self.session_id} in {timeout_s:.0f} s")

    @property
    def final(self) -> dict[str, Any] | None:
        """The latest answer that carries the whole session's result."""
        finals = [b for bodies in self.answers.values() for b in bodies if b["result"].get("live", {}).get("final")]
        return finals[-1] if finals else None


def _epoch(stamp: str) -> float:
    """Epoch seconds of the sandbox's ``2026-11-23T10:00:00.123Z``."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
