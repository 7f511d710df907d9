"""The files ``new-handler`` writes: (path relative to the repository, text, executable).

``{{name}}`` in a path or a text is the new handler's name.
"""

from __future__ import annotations

__all__ = ["FILES"]

_INIT = '''"""The {{name}} analyser (made by ``python -m ml_service new-handler``)."""
'''

_HANDLER = '''"""``process``: the {{name}} analyser.

Reads each recording's facts with :func:`ml_service.handler_api.probe` and runs ``find`` on
them. As generated, ``find`` reports nothing: put this analyser's checks there (one function
per check, each returning violations ``{"type", "start_s", "end_s", "confidence"}`` on the
session's timeline), and read their thresholds from ``submission["options"]``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ml_service.handler_api import HandlerInput, SubmissionError, build_result, probe

__all__ = ["MODALITY", "process"]

MODALITY = "{{name}}"
DEFAULTS: dict[str, Any] = {}  # option name -> default; a submission's "options" override them


def process(submission: HandlerInput) -> tuple[dict[str, Any], str]:
    """Analyse the submission's recordings; return a schema-valid result and a one-line summary."""
    started = time.monotonic()
    options = _options(submission.get("options") or {})
    files = [{"name": rec["name"], **probe(Path(rec["path"]))} for rec in submission.get("recordings") or []]
    unreadable = [f["name"] for f in files if not f["readable"]]
    if unreadable:
        raise SubmissionError(f"unreadable recording(s): {', '.join(unreadable)}")
    durations = [f["duration_s"] for f in files if f.get("duration_s") is not None]
    media = {"duration_s": max(durations) if durations else None, "files": files}
    violations = find(files, options)
    result = build_result(submission.get("modality") or MODALITY, violations, media, time.monotonic() - started)
    return result, f"{MODALITY}: {len(violations)} violation(s) in {len(files)} recording(s)"


def find(files: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """This analyser's checks over the probed recordings (none yet)."""
    return []


def _options(given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SubmissionError(f"unknown option(s) for {MODALITY}: {', '.join(unknown)}")
    return {**DEFAULTS, **given}
'''

_REQUIREMENTS = """# pip packages the {{name}} handler needs, pinned (name==version); pin them in constraints.txt too.
# The worker's own packages (requirements.txt) are there already.
"""

_INSTALL = """#!/usr/bin/env bash
# System packages for the {{name}} handler. Idempotent: run it any number of times; the
# Docker build (--build-arg handler_name={{name}}) and ./dev setup run it.
# As generated it needs ffprobe (Debian's ffmpeg) for ml_service.handler_api.probe.
set -euo pipefail

if command -v ffprobe >/dev/null 2>&1; then
    echo "{{name}} handler: system packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "{{name}} handler: install the Debian package 'ffmpeg': sudo apt-get install -y ffmpeg" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends ffmpeg \\
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq \\
         && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends ffmpeg; }
echo "{{name}} handler: installed ffmpeg"
"""

_README = """# {{name}} handler

What it analyses, and the checks it reports:

| check | what it means | options (default) |
| --- | --- | --- |
| (none yet) | | |

- Run it: `ML_ANALYZER=handlers.{{name}}.{{name}}.process`, `ML_XQUEUE_NAME={{name}}`
  (copy `debug.env` to `{{name}}.env` and change those two lines).
- Test it: `python -m pytest tests/handlers/test_{{name}}.py`.
- Samples: `ml_service/samples/{{name}}.py` makes the labelled recordings that the test,
  `python -m ml_service.samples --modality {{name}}` and `bench/quality.py --modality {{name}}` use.
- Image: `docker build --network host --build-arg handler_name={{name}} -t ml-service-{{name}} .`

See `docs/writing-a-handler.md` for the contract.
"""

_SAMPLES = '''"""Labelled samples for the {{name}} analyser (made by ``new-handler``; grow it with the checks).

``generate`` writes recordings whose truth is known by construction; as generated, one clean
two-second WAV of near-silence (no violation).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from ml_service.samples.truth import Sample

__all__ = ["generate", "make_long"]

_RATE = 16000


def generate(out_dir: Path, seed: int = 0) -> list[Sample]:
    """The labelled set."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = _tone(out_dir / "{{name}}-clean.wav", 2.0, seed)
    return [Sample(name="{{name}}-clean", modality="{{name}}", recordings=[path], duration_s=2.0, truth=[], clean=True)]


def make_long(out_dir: Path, minutes: float, seed: int = 0) -> Path:
    """One ``minutes``-long clean recording (for speed benches)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _tone(out_dir / f"{{name}}-long-{minutes:g}min.wav", minutes * 60.0, seed)


def _tone(path: Path, seconds: float, seed: int) -> Path:
    """A quiet 16 kHz mono WAV (a faint hum, so it is not digital silence)."""
    frames = int(seconds * _RATE)
    hz = 50.0 + seed % 10
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        out.writeframes(b"".join(struct.pack("<h", int(30 * math.sin(2 * math.pi * hz * i / _RATE)))
                                 for i in range(frames)))
    return path
'''

_TEST = '''"""The {{name}} handler on its labelled samples (made by ``new-handler``; never skipped)."""

from __future__ import annotations

from handlers.{{name}}.{{name}} import process
from ml_service.handler_api import validate_result
from ml_service.samples import generate_set, handler_input


def test_every_sample_gives_a_valid_result_with_its_truth(tmp_path):
    samples, _ = generate_set("{{name}}", tmp_path)
    assert samples
    for sample in samples:
        result, msg = process(handler_input(sample, tmp_path / "work"))
        assert validate_result(result) == [], validate_result(result)
        assert isinstance(msg, str) and msg
        assert sorted(v["type"] for v in result["violations"]) == sorted(e["type"] for e in sample.truth)
        assert abs(result["media"]["duration_s"] - sample.duration_s) < 0.1
'''

FILES: list[tuple[str, str, bool]] = [
    ("handlers/{name}/__init__.py", _INIT, False),
    ("handlers/{name}/{name}.py", _HANDLER, False),
    ("handlers/{name}/requirements.txt", _REQUIREMENTS, False),
    ("handlers/{name}/install.sh", _INSTALL, True),
    ("handlers/{name}/README.md", _README, False),
    ("ml_service/samples/{name}.py", _SAMPLES, False),
    ("tests/handlers/test_{name}.py", _TEST, False),
]
