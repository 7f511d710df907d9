"""Handlers used by the worker tests (loaded by dotted path, like real ones)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ml_service.core.errors import Retry
from ml_service.core.results import build_result

SEEN: list[dict[str, Any]] = []
CALLS = {"retry": 0}


def ok(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Reports each recording's size and digest, and one violation per recording."""
    SEEN.append(submission)
    files, violations = [], []
    for rec in submission["recordings"]:
        data = Path(rec["path"]).read_bytes()
        files.append({"name": rec["name"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        violations.append({"type": "face_absent", "start_s": 1.0, "end_s": 3.0, "confidence": 0.9,
                           "details": {"file": rec["name"]}})
    return build_result("debug", violations, {"duration_s": 10.0, "files": files}, 0.01), "looked"


def raises(submission: dict[str, Any]) -> Any:
    raise ZeroDivisionError("model exploded")


def wrong_shape(submission: dict[str, Any]) -> Any:
    return {"violations": []}


def bad_schema(submission: dict[str, Any]) -> Any:
    return {"schema": "ml-service/result/1", "score": 7}, "oops"


def retry_once(submission: dict[str, Any]) -> Any:
    CALLS["retry"] += 1
    if CALLS["retry"] == 1:
        raise Retry("model warming up", delay_s=5)
    return ok(submission)


def always_retry(submission: dict[str, Any]) -> Any:
    raise Retry("never ready", delay_s=1)


def hang(submission: dict[str, Any]) -> Any:
    import time
    time.sleep(3600)


def eat_memory(submission: dict[str, Any]) -> Any:
    hog = []
    while True:
        hog.append(bytearray(32 * 1024 * 1024))


def child_eats_memory(submission: dict[str, Any]) -> Any:
    """The memory goes to a process the handler starts (as ffmpeg or a segment worker would)."""
    import subprocess
    import sys

    hog = "import time\nhog = []\nwhile True:\n    hog.append(bytearray(32 << 20))\n    time.sleep(0.01)"
    subprocess.run([sys.executable, "-c", hog, "ml-service-test-grandchild-hog"], check=False)
    return {}, "unreachable"


def segfault(submission: dict[str, Any]) -> Any:
    import ctypes
    ctypes.string_at(0)


def exit_now(submission: dict[str, Any]) -> Any:
    import os
    os._exit(3)


def hang_once(submission: dict[str, Any]) -> Any:
    """Hangs the first time (marker file absent), answers normally afterwards."""
    import time
    marker = Path(submission["options"]["marker"])
    if not marker.exists():
        marker.write_text("started")
        time.sleep(3600)
    return ok(submission)


def pid_reporter(submission: dict[str, Any]) -> Any:
    import os
    result, _ = ok(submission)
    return result, f"pid={os.getpid()}"


def wait_for_release(submission: dict[str, Any]) -> Any:
    """Writes ``options.started``, then waits (up to 60 s) for the file ``options.release``."""
    import time
    options = submission["options"]
    Path(options["started"]).write_text("started")
    deadline = time.monotonic() + 60
    while not Path(options["release"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return ok(submission)


def opens_a_missing_file(submission: dict[str, Any]) -> Any:
    """Fails the way real code fails: the exception names a path inside the job folder."""
    return open(Path(submission["work_dir"]) / "frames" / "0001.png", "rb")


def names_its_paths(submission: dict[str, Any]) -> Any:
    """Succeeds, but puts the recordings' local paths in its result and message."""
    result, _ = ok(submission)
    paths = [rec["path"] for rec in submission["recordings"]]
    result["media"]["files"] = [{**f, "path": p} for f, p in zip(result["media"]["files"], paths)]
    return result, f"read {', '.join(paths)} in {submission['work_dir']}"
