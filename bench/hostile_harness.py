"""The harness of bench/hostile.py: sample files, the worker process, the servers, and what cases use.

:class:`Harness` owns every server (the sandbox, the scripted XQueue and platform, media hosts on
127.0.0.1 and 127.0.0.3, the canary on 127.0.0.2), runs the real worker once per stage, and turns
each case into a row: expected and observed answer, worker alive, canary hits, secrets in the
case's log lines, job folder removed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.hostile_cases import Case
from bench.hostile_servers import QUEUE, RouteServer, ScriptedPlatform, ScriptedXQueue, submission_reply
from ml_service.sandbox.demo_media import make_photo, make_video, make_wav
from ml_service.samples.hostile_media import make_long_flac, make_lying_wav, make_png_bomb
from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.sandbox.canary import RecordingServer

__all__ = ["Harness", "SampleFiles", "Ticket", "WorkerProcess", "row_text"]

REPO = Path(__file__).resolve().parents[1]
CLIENT, SECRET, XQ_PASSWORD = "hostile-client", "hostile-client-secret-4b7e", "hostile-xq-password-93c1"
_TOKEN_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.|Bearer [A-Za-z0-9]")


@dataclass
class Ticket:
    """How to find a case's outcome."""

    stage: str
    sub_id: int | None = None
    served_at: int = 0  # scripted: the poll that serves the (last) reply
    key: str | None = None  # scripted: the submission_key it was served with


class SampleFiles:
    """The files cases upload or serve, generated offline on first use (the ten-hour FLAC takes a while)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._makers: dict[str, Callable[[Path], Any]] = {
            "mic.wav": lambda p: make_wav(p, seconds=1.0), "photo.jpg": make_photo, "bomb.png": make_png_bomb,
            "lying.wav": make_lying_wav, "silent.mp4": lambda p: make_video(p, seconds=1.0, audio=False),
            "ten_hours.flac": make_long_flac, "zero.bin": lambda p: p.write_bytes(b""),
            "garbage.bin": lambda p: p.write_bytes(os.urandom(4096)),
            "text.txt": lambda p: p.write_bytes(b"not audio\n" * 50)}

    def __getitem__(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            partial = self.folder / f"partial-{name}"  # same suffix: ffmpeg picks the format from it
            self._makers[name](partial)
            partial.replace(path)
        return path


class WorkerProcess:
    """The real CLI worker of one stage; restarted when it dies."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ml_service", "run"], cwd=REPO, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Harness:
    """The servers, the workers and what cases may ask of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = SampleFiles(root / "media")
        self.canary = RecordingServer("127.0.0.2")
        self.media, self.media3 = RouteServer("127.0.0.1"), RouteServer("127.0.0.3")
        self.xq, self.platform = ScriptedXQueue(), ScriptedPlatform()
        self.sandbox = Sandbox(SandboxConfig(state_dir=root / "sandbox", xqueue_port=0, platform_port=0,
                                             queues=["debug"], users={"ml_service": XQ_PASSWORD},
                                             clients={CLIENT: SECRET}))
        self.servers = [self.canary, self.media.server, self.media3.server, self.xq.server, self.platform.server]
        self.next_id, self.exits, self._fixed = 1000, 0, set()
        self.worker: WorkerProcess | None = None

    # -- what cases use --------------------------------------------------------------------------
    @property
    def p(self) -> str:
        return self.platform.server.authority

    @property
    def c(self) -> str:
        return self.canary.authority

    @property
    def m(self) -> str:
        return self.media.server.authority

    @property
    def canary_url(self) -> str:
        return self.canary.url

    def file(self, name: str) -> Path:
        return self.files[name]

    def serve_file(self, name: str) -> Callable[[Any], Any]:
        data = self.files[name].read_bytes()
        return lambda hit: (200, {"Content-Type": "application/octet-stream"}, data)

    def route(self, server: str, path: str, responder: Callable[[Any], Any], keep: bool = False) -> str:
        """Serve ``path`` on ``media``, ``media3`` or ``platform``; return its URL."""
        routes, authority = {"media": (self.media.routes, self.m), "media3": (self.media3.routes, self.media3.server.authority),
                             "platform": (self.platform.media, self.p)}[server]
        if (server, path) not in self._fixed:
            routes[path] = responder
        if keep:
            self._fixed.add((server, path))
        return f"http://{authority}{path}"

    def chain(self, hops: int) -> str:
        for i in range(hops):
            self.route("media", f"/hop{i}", lambda hit, i=i: (302, {"Location": f"/hop{i + 1}"}, b""))
        self.route("media", f"/hop{hops}", self.serve_file("mic.wav"))
        return f"http://{self.m}/hop0"

    def sandbox_submit(self, body: Any, files: dict[str, Path]) -> Ticket:
        return Ticket("sandbox", self.sandbox.submit_session("debug", body if isinstance(body, str) else json.dumps(body), files))

    def offer_submission(self, body: Any, files: Any, header: Any = None) -> Ticket:
        self.next_id += 1
        key = secrets.token_hex(16)
        ticket = self.offer_raw(submission_reply(self.next_id, body, files, key=key, header=header), sub_id=self.next_id)
        ticket.key = key if header is None else None
        return ticket

    def offer_raw(self, reply: Any, times: int = 1, sub_id: int | None = None) -> Ticket:
        served = [self.xq.offer(reply) for _ in range(times)]
        return Ticket("scripted", sub_id, served[-1])

    def with_put_reply(self, reply: Callable[[dict[str, str]], Any]) -> Ticket:
        self.xq.put_reply = reply
        return self.offer_submission({"session_id": "put"}, {"a.wav": self.route("media", "/a.wav", self.serve_file("mic.wav"))})

    def set_token(self, reply: Callable[[], Any]) -> None:
        self.platform.token_reply = reply

    def set_events(self, reply: Callable[[Any], Any]) -> None:
        self.platform.events_reply = reply

    # -- running ---------------------------------------------------------------------------------
    def env(self, stage: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "XQUEUE_", "PLATFORM_"))}
        (self.root / f"work-{stage}").mkdir(exist_ok=True)
        urls = ({"XQUEUE_URL": self.sandbox.xqueue_url, "PLATFORM_URL": self.sandbox.platform_url, "ML_XQUEUE_NAME": "debug"}
                if stage == "sandbox" else
                {"XQUEUE_URL": self.xq.server.url, "PLATFORM_URL": self.platform.server.url, "ML_XQUEUE_NAME": QUEUE,
                 "ML_MEDIA_ALLOWED_HOSTS": "127.0.0.1,127.0.0.3"})
        return {**base, **urls, "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}", "ML_ANALYZER": "handlers.debug.debug.process",
                "ML_CLIENT_ID": CLIENT, "ML_CLIENT_SECRET": SECRET, "ML_WORK_DIR": str(self.root / f"work-{stage}"),
                "ML_STATE_DIR": str(self.root / f"state-{stage}"), "ML_POLL_INTERVAL_S": "0.05",
                "ML_POLL_MAX_INTERVAL_S": "0.2", "ML_BACKOFF_MAX_S": "0.5", "ML_HTTP_TIMEOUT_S": "3",
                "ML_PUT_RESULT_TIMEOUT_S": "3", "ML_MEDIA_TIMEOUT_S": "3", "ML_MEDIA_DEADLINE_S": "8",
                "ML_MEDIA_MAX_BYTES": str(64 << 20), "ML_HEARTBEAT_S": "5", "ML_METRICS_PORT": "0",
                "ML_SHUTDOWN_GRACE_S": "5", "ML_LOG_LEVEL": "DEBUG"}

    def run(self, cases: list[Case], progress: bool = True) -> list[dict[str, Any]]:
        rows = []
        for server in self.servers:
            server.start()
        with self.sandbox:
            try:
                for stage in ("sandbox", "scripted"):
                    staged = [c for c in cases if c.stage == stage]
                    if not staged:
                        continue
                    self.worker = WorkerProcess(self.env(stage), self.root / f"worker-{stage}.log")
                    self.worker.start()
                    for case in staged:
                        rows.append(self.run_case(case, stage))
                        if progress:
                            print(row_text(rows[-1]), flush=True)
                    self.worker.stop()
            finally:
                if self.worker is not None:
                    self.worker.stop()
                for server in self.servers:
                    server.stop()
        return rows

    def run_case(self, case: Case, stage: str) -> dict[str, Any]:
        log = self.worker.log
        offset, started = log.stat().st_size if log.exists() else 0, time.monotonic()
        hits_before, leaks_before = len(self.canary.hits), self._leaks()
        unanswerable_before = len(self.platform.unanswerable_events())
        if case.setup is not None:
            self.worker.stop()
            case.setup(self)
            self.worker.start()
        try:
            observed = self._observe(case.act(self), case.timeout_s, unanswerable_before)
        except Exception as exc:  # noqa: BLE001 - a case that cannot even be submitted is a failed row
            observed = f"harness error: {type(exc).__name__}: {str(exc)[:100]}"
        alive = self.worker.alive()
        removed = self._folders_removed(stage)
        row = {"case": case.name, "group": case.group, "expected": case.expect, "observed": observed, "alive": alive,
               "canary_hits": len(self.canary.hits) - hits_before + self._leaks() - leaks_before,
               "secrets": self._secrets(log, offset), "folder_removed": removed,
               "seconds": round(time.monotonic() - started, 1)}
        row["ok"] = (row["observed"] == case.expect and alive and row["canary_hits"] == 0 and row["secrets"] == 0
                     and removed)
        self._reset(alive)
        return row

    def _observe(self, ticket: Ticket, timeout_s: float, unanswerable_before: int) -> int | str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self._answer(ticket)
            if answer is not None:
                return answer
            if ticket.stage == "scripted" and self.xq.polls > ticket.served_at:  # the worker moved on
                return self._unanswerable(unanswerable_before)
            time.sleep(0.05)
        return "none"

    def _answer(self, ticket: Ticket) -> int | str | None:
        if ticket.stage == "sandbox":
            body = next((r["body"] for r in self.sandbox.results() if r["submission_id"] == ticket.sub_id), None)
        else:
            body = self.xq.answer_for(ticket.sub_id, ticket.key) if ticket.sub_id is not None else None
        if body is None:
            return None
        try:
            return int(body["result"]["error_code"])
        except (TypeError, KeyError, ValueError):
            return "unreadable answer"

    def _unanswerable(self, before: int) -> str:
        deadline = time.monotonic() + 3.0  # the event leaves from the worker's background sender
        while time.monotonic() < deadline and len(self.platform.unanswerable_events()) == before:
            time.sleep(0.05)
        time.sleep(0.3)  # a second report of the same submission would arrive now
        new = len(self.platform.unanswerable_events()) - before
        return "none" if new == 0 else "unanswerable" if new == 1 else f"unanswerable x{new}"

    def _leaks(self) -> int:
        """Requests that carried the platform token to a server other than the platform."""
        others = (self.canary, self.media.server, self.media3.server, self.xq.server)
        return sum(1 for server in others for hit in server.hits if hit.authorization)

    def _secrets(self, log: Path, offset: int) -> int:
        with log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
        known = [SECRET, XQ_PASSWORD, *(t for t in self.platform.tokens if len(t) >= 8)]
        return sum(text.count(s) for s in known) + len(_TOKEN_LIKE.findall(text))

    def _folders_removed(self, stage: str) -> bool:
        work, deadline = self.root / f"work-{stage}", time.monotonic() + 3.0
        while any(p.name.startswith("job-") for p in work.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not any(p.name.startswith("job-") for p in work.iterdir())

    def _reset(self, alive: bool) -> None:
        self.platform.reset()
        self.xq.put_reply = None
        self.xq.replies.clear()
        self.media.routes.clear()
        self.media3.routes.clear()
        self._fixed.clear()
        if not alive:
            self.exits += 1
            self.worker.start()


def row_text(row: dict[str, Any]) -> str:
    flag = "ok  " if row["ok"] else "FAIL"
    return (f"{flag} {row['case'][:58]:<58} expected {str(row['expected']):<12} observed {str(row['observed'])[:24]:<12} "
            f"alive {'yes' if row['alive'] else 'NO ':<3} canary {row['canary_hits']} secrets {row['secrets']} "
            f"folder {'removed' if row['folder_removed'] else 'LEFT'} {row['seconds']:>5.1f} s")
