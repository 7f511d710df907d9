"""The demo's sessions: which labelled samples it submits, and found vs expected per session.

:data:`DEMO_SAMPLES` is the one place that chooses them, by name, from the sets that
``ml_service.samples.<modality>.generate`` makes (``python -m ml_service.samples --out DIR``
writes and lists them all). Each sample's truth says which checks it must trigger; together they
give every analyser several different checks. When a sample set changes, edit the names here:
a name a generator no longer has fails at once, with the names it does have nearby in
``python -m ml_service.samples --out DIR --modality M``.

:func:`make_demo_samples` generates only these samples, once: they are kept under a cache
folder (default ``$XDG_CACHE_HOME/ml-service/demo-samples``, else ``~/.cache/...``) and reused
while the generator's version and the names are unchanged (:func:`ml_service.samples.generate_set`).
Modalities are generated in two processes, and each is handed on as soon as it is ready.
:func:`compare` scores one session with :func:`ml_service.samples.evaluation.match_events`: it matches
when every truth event was found (same check, overlapping) and nothing else was.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_service import samples
from ml_service.samples.evaluation import match_events
from ml_service.samples import Sample

__all__ = ["DEMO_SAMPLES", "Comparison", "compare", "default_cache", "make_demo_samples"]

# modality -> sample names, in the order they are submitted. What each one plants (its truth):
DEMO_SAMPLES: dict[str, tuple[str, ...]] = {
    "webcam": (
        "webcam-leaves-and-returns",    # face_absent twice: the candidate leaves and comes back
        "webcam-second-person-near",    # multiple_faces: a second person beside the candidate
        "webcam-person-replaced",       # identity_change + identity_mismatch against the reference photo
    ),
    "screencast": (
        "screencast-chatgpt",           # window_switch + forbidden_content: a ChatGPT window
        "screencast-blank",             # blank_screen: screen sharing stopped
        "screencast-pillarbox",         # resolution_change: the exam shown at another resolution
    ),
    "audio": (
        "audio-second-voice",           # speech + voice_mismatch: a stranger's voice (enrolment clip)
        "audio-dialogue",               # conversation_hints + multiple_speakers: a whispered exchange
        "audio-mic-muted",              # mic_muted_or_dead: the microphone muted for 15 s
        "audio-noise-bursts",           # background_noise: white and pink noise bursts
    ),
    "keystrokes": (
        "keystrokes-paste-1",                   # paste_burst: a pasted answer
        "keystrokes-typist-change-enrolled-1",  # typist_change: someone else types (enrolment log)
        "keystrokes-automation-1",              # automation: a script types at a constant rate
        "keystrokes-idle-1",                    # idle: 40 s without a key
    ),
}


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/ml-service/demo-samples`` (``~/.cache`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ml-service" / "demo-samples"


def _generate(modality: str, folder: str, seed: int) -> tuple[str, list[Sample], bool]:
    made, reused = samples.generate_set(modality, Path(folder), seed=seed, only=DEMO_SAMPLES[modality])
    order = {name: i for i, name in enumerate(DEMO_SAMPLES[modality])}
    return modality, sorted(made, key=lambda s: order[s.name]), reused


def make_demo_samples(cache: Path, modalities: Sequence[str] | None = None, seed: int = 0,
                      on_ready: Callable[[str, list[Sample], bool], None] | None = None,
                      ) -> dict[str, list[Sample]]:
    """Generate (or reuse) the chosen samples under ``cache/<modality>``, in two processes.

    Returns modality -> samples in :data:`DEMO_SAMPLES` order. ``on_ready(modality, samples,
    reused)`` is called as each modality is done, so its sessions can be submitted while the
    slowest one (webcam, started first) is still being made.
    """
    chosen = [m for m in DEMO_SAMPLES if modalities is None or m in modalities]
    made: dict[str, list[Sample]] = {}
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(_generate, m, str(Path(cache) / m), seed) for m in chosen]
        for job in as_completed(jobs):
            modality, ready, reused = job.result()
            made[modality] = ready
            if on_ready is not None:
                on_ready(modality, ready, reused)
    return {m: made[m] for m in chosen}


@dataclass(frozen=True)
class Comparison:
    """One session: events found and expected per check, and whether they match one to one."""

    found: Mapping[str, int]
    expected: Mapping[str, int]
    matched: Mapping[str, int]

    @property
    def ok(self) -> bool:
        """Every expected event found, and nothing found that was not expected."""
        return self.found == self.expected == self.matched

    def cells(self) -> list[str]:
        """``check found/expected`` for every check either side names, sorted."""
        return [f"{c} {self.found.get(c, 0)}/{self.expected.get(c, 0)}"
                for c in sorted(set(self.found) | set(self.expected))]


def compare(truth: Sequence[Mapping[str, Any]], violations: Sequence[Mapping[str, Any]]) -> Comparison:
    """Found vs expected events per check for one session."""
    pairs = match_events(truth, violations)
    matched = Counter(truth[t]["type"] for t, _ in pairs)
    return Comparison(found=dict(Counter(v["type"] for v in violations)),
                      expected=dict(Counter(e["type"] for e in truth)), matched=dict(matched))
