"""Labelled keystroke logs: simulated typists, impostors, pastes, scripts and idle stretches.

A typist is a seeded timing profile. Each key pair (digraph) has a log-normal flight time
(down to down) whose mean is the typist's tempo plus a part every typist shares (hand and
finger geometry) plus the typist's own part; each key has a log-normal hold (dwell) time the
same way. Typists pause after words and sentences (at most :data:`MAX_PAUSE_S`, below the idle
threshold), mistype and correct with Backspace, and slow down a little over a session. Keys
are written as hashed codes, as the platform would send them.

A session is a plan of steps, each one planting its own truth:

    ("type", typist, until_s)   the candidate (typist 0 of the sample) or an impostor:
                                an impostor's stretch is a ``typist_change`` event
    ("bot", kind, until_s)      a script typing: ``automation`` (kinds: ``constant``,
                                ``jitter`` (+-12 %), ``fast`` (irregular but ~28 keys/s))
    ("paste", chars)            Ctrl+V and a paste event: ``paste_burst`` when consecutive
                                pastes hold >= 50 characters (fewer: a harmless small paste)
    ("idle", until_s)           nothing at all: ``idle`` (from the last event to the next)

:func:`generate` writes the labelled set (clips of 90-120 s); samples with an enrolment log
carry it as a second recording named ``<sample>.enrolment.json`` (the handler's convention).
:func:`make_session` writes one log from a plan (tests use it); :func:`make_long` repeats a
few two-minute sessions to the length asked for.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ml_service.samples.truth import Sample

__all__ = ["MAX_PAUSE_S", "MODALITY", "Typist", "generate", "make_long", "make_session"]

MODALITY = "keystrokes"
MAX_PAUSE_S = 12.0
PASTE_MIN_CHARS = 50  # the handler's default paste_min_chars
TEXT = (
    "the eigenvalues of a symmetric matrix are real, and its eigenvectors can be chosen to be "
    "orthogonal. to find them, write the characteristic polynomial and solve for its roots. "
    "in the second question the rank of the matrix is two, because the first two rows are "
    "parallel. the kernel has dimension one, which agrees with the rank nullity theorem. "
    "an orthogonal matrix keeps lengths and angles, so its determinant is either one or minus "
    "one. when the matrix is diagonal the answer can be read off at once. i would check the "
    "result by multiplying the matrix with the vector and comparing both sides. finally, the "
    "trace equals the sum of the eigenvalues and the determinant equals their product. "
)
Plan = list[tuple[Any, ...]]


def key_code(name: str) -> str:
    """The hashed code the platform sends for a key (only equality matters)."""
    return hashlib.sha256(f"exam42:{name}".encode()).hexdigest()[:8]


def _normal(*parts: Any) -> float:
    """A deterministic standard normal draw for ``parts`` (Box-Muller on a hash)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / 2.0**64
    u2 = int.from_bytes(digest[8:16], "big") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class Typist:
    """One person's timing: tempo, spread, per-pair and per-key offsets, pause habits."""

    def __init__(self, ident: int) -> None:
        rng = np.random.default_rng([7331, ident])
        self.ident = ident
        self.tempo = math.log(rng.uniform(0.15, 0.24))
        self.spread = rng.uniform(0.22, 0.30)
        self.hold = math.log(rng.uniform(0.075, 0.12))
        self.hold_spread = rng.uniform(0.15, 0.22)
        self.word_pause = rng.uniform(0.04, 0.10)
        self.typo = rng.uniform(0.01, 0.03)
        self._cache: dict[tuple[str, ...], float] = {}

    def flight_mu(self, a: str, b: str) -> float:
        if (a, b) not in self._cache:
            self._cache[(a, b)] = self.tempo + 0.2 * _normal("pair", a, b) + 0.3 * _normal(self.ident, a, b)
        return self._cache[(a, b)]

    def dwell_mu(self, k: str) -> float:
        if (k,) not in self._cache:
            self._cache[(k,)] = self.hold + 0.1 * _normal("key", k) + 0.2 * _normal(self.ident, k)
        return self._cache[(k,)]


class _Log:
    """Events under construction: (t, order, type, key or chars); same-key holds never overlap."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, str, Any]] = []
        self.last_up: dict[str, int] = {}
        self.t = 0.0

    def key(self, name: str, down: float, dwell: float) -> None:
        code = key_code(name)
        previous = self.last_up.get(code)
        if previous is not None and self.events[previous][0] >= down:  # still held: lift it first
            _, order, kind, code_up = self.events[previous]
            self.events[previous] = (max(down - 0.002, 0.0), order, kind, code_up)
        self.events.append((down, len(self.events), "down", code))
        self.last_up[code] = len(self.events)
        self.events.append((down + dwell, len(self.events), "up", code))
        self.t = down

    def paste(self, t: float, chars: int) -> None:
        self.key("Control", t, 0.35)
        self.key("v", t + 0.12, 0.08)
        self.events.append((t + 0.15, len(self.events), "paste", chars))
        self.t = t + 0.5

    def write(self, path: Path, duration_s: float) -> Path:
        rows = []
        duration_s = max([duration_s] + [e[0] for e in self.events])
        for t, _, kind, value in sorted(self.events):
            field = "chars" if kind == "paste" else "key"
            rows.append({"t": int(round(t * 1000)), "type": kind, field: value})
        doc = {"format": "keystrokes/1", "time_unit": "ms", "duration": int(round(duration_s * 1000)),
               "events": rows}
        path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        return path


def _type(log: _Log, typist: Typist, rng: np.random.Generator, until: float,
          slow_down: float = 0.08) -> tuple[float, float]:
    """The typist types from ``log.t`` until ``until``; returns (first down, last down)."""
    start, prev, pos = log.t, " ", int(rng.integers(len(TEXT)))
    first = last = None
    while True:
        ch = TEXT[pos % len(TEXT)]
        pos += 1
        flight = math.exp(rng.normal(typist.flight_mu(prev, ch), typist.spread))
        flight *= 1.0 + slow_down * (log.t - start) / max(until - start, 1.0)
        if prev == " " and rng.random() < typist.word_pause:
            flight += rng.lognormal(math.log(1.0), 0.6)
        elif prev == "." and rng.random() < 0.5:
            flight += rng.lognormal(math.log(2.5), 0.5)
        t = log.t + min(flight, MAX_PAUSE_S)
        if t > until:
            break
        names = [ch, "Backspace", ch] if rng.random() < typist.typo else [ch]
        for i, name in enumerate(names):
            down = t if i == 0 else log.t + math.exp(rng.normal(typist.tempo + 0.3, typist.spread))
            log.key(name, down, math.exp(rng.normal(typist.dwell_mu(name), typist.hold_spread)))
            first = down if first is None else first
            last = down
        prev = ch
    return (first if first is not None else start), (last if last is not None else start)


def _bot(log: _Log, kind: str, rng: np.random.Generator, until: float) -> tuple[float, float]:
    """A script types from ``log.t + 0.3`` until ``until``; returns (first down, last down)."""
    t, first, pos = log.t + 0.3, None, int(rng.integers(len(TEXT)))
    while t <= until:
        if kind == "fast":
            flight, dwell = rng.lognormal(math.log(0.034), 0.35), rng.lognormal(math.log(0.02), 0.3)
        else:
            jitter = 0.02 if kind == "constant" else 0.12
            flight, dwell = 0.12 * (1 + rng.uniform(-jitter, jitter)), 0.05 * (1 + rng.uniform(-jitter, jitter))
        log.key(TEXT[pos % len(TEXT)], t, dwell)
        first = t if first is None else first
        pos, t = pos + 1, t + flight
    return first, log.t


def make_session(path: Path, plan: Plan, seed: int, duration_s: float,
                 typists: dict[int, Typist] | None = None) -> list[dict[str, Any]]:
    """Write the log of ``plan`` to ``path``; return its truth events. Typist 0 is the candidate."""
    rng = np.random.default_rng([seed, 99])
    typists = typists if typists is not None else {}
    log, truth, paste = _Log(), [], None
    for step in plan + [("end",)]:
        kind = step[0]
        if kind != "paste" and paste is not None:
            if paste.pop("chars") >= PASTE_MIN_CHARS:
                truth.append(paste)
            paste = None
        if kind == "type":
            who = typists.setdefault(step[1], Typist(step[1]))
            first, last = _type(log, who, rng, step[2])
            if step[1] != 0:
                truth.append({"type": "typist_change", "start_s": first, "end_s": last})
        elif kind == "bot":
            first, last = _bot(log, step[1], rng, step[2])
            truth.append({"type": "automation", "start_s": first, "end_s": last})
        elif kind == "paste":
            at = log.t + 0.8
            log.paste(at, step[1])
            paste = paste or {"type": "paste_burst", "start_s": at + 0.15, "chars": 0}
            paste.update(end_s=at + 0.15, chars=paste["chars"] + step[1])
        elif kind == "idle":
            truth.append({"type": "idle", "until": step[1]})
            log.t = step[1]
    log.write(path, duration_s)
    return [_settle(e, log) for e in truth]


def _settle(event: dict[str, Any], log: _Log) -> dict[str, Any]:
    """Round to the log's milliseconds; an idle stretch runs from the last event to the next."""
    if event["type"] == "idle":
        times = sorted(e[0] for e in log.events)
        before = max((t for t in times if t < event["until"]), default=0.0)
        after = min((t for t in times if t >= event["until"]), default=event["until"])
        event = {"type": "idle", "start_s": before, "end_s": after}
    return {"type": event["type"], "start_s": round(event["start_s"], 3), "end_s": round(event["end_s"], 3)}


def _candidate_on_another_day(typist: Typist, factor: float) -> Typist:
    """The same person enrolling on another day: a little faster or slower overall."""
    other = Typist(typist.ident)
    other.tempo += math.log(factor)
    other.hold += 0.5 * math.log(factor)
    return other


_BOTS = ("constant", "jitter", "fast")
# name: (seconds, plan, with enrolment log)
_SCENARIOS: dict[str, tuple[float, Plan, bool]] = {
    "clean-enrolled": (90.0, [("type", 0, 90.0)], True),
    "clean": (120.0, [("type", 0, 55.0), ("paste", 20), ("type", 0, 120.0)], False),
    "typist-change-enrolled": (100.0, [("type", 0, 40.0), ("type", 1, 100.0)], True),
    "typist-change": (120.0, [("type", 0, 70.0), ("type", 1, 120.0)], False),
    "typist-swap-enrolled": (110.0, [("type", 0, 30.0), ("type", 1, 75.0), ("type", 0, 110.0)], True),
    "paste": (90.0, [("type", 0, 20.0), ("paste", 300), ("type", 0, 45.0), ("paste", 15), ("type", 0, 55.0),
                     ("paste", 120), ("paste", 400), ("type", 0, 90.0)], False),
    "automation": (90.0, [("type", 0, 30.0), ("bot", "?", 60.0), ("type", 0, 90.0)], False),
    "idle": (100.0, [("type", 0, 25.0), ("idle", 65.0), ("type", 0, 100.0)], False),
    "mixed-enrolled": (120.0, [("type", 0, 20.0), ("paste", 250), ("type", 0, 30.0), ("idle", 65.0),
                               ("type", 1, 120.0)], True),
}
_CHECKS = ("typist_change", "paste_burst", "automation", "idle")


def generate(out_dir: Path, seed: int = 0) -> list[Sample]:
    """The labelled set: each scenario three times, with other typists (and script kinds)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    for variant in range(3):
        for number, (scenario, (seconds, plan, enrolled)) in enumerate(_SCENARIOS.items()):
            ident = 1000 * seed + 100 * variant + 2 * number
            name = f"keystrokes-{scenario}-{variant + 1}"
            plan = [("bot", _BOTS[variant], s[2]) if s[0] == "bot" else s for s in plan]
            samples.append(_sample(out_dir, name, plan, seconds, enrolled, ident, seed))
    return samples


def _sample(out_dir: Path, name: str, plan: Plan, seconds: float, enrolled: bool, ident: int,
            seed: int) -> Sample:
    typists = {0: Typist(ident), 1: Typist(ident + 1)}
    log = out_dir / f"{name}.json"
    truth = make_session(log, plan, seed=ident + seed, duration_s=seconds, typists=typists)
    recordings = [log]
    if enrolled:
        factor = float(np.random.default_rng([ident, 5]).uniform(0.92, 1.08))
        recordings.append(out_dir / f"{name}.enrolment.json")
        make_session(recordings[-1], [("type", 0, 150.0)], seed=ident + seed + 1, duration_s=150.0,
                     typists={0: _candidate_on_another_day(typists[0], factor)})
    return Sample(name=name, modality=MODALITY, recordings=recordings, duration_s=seconds, truth=truth,
                  clean=not truth, checks=list(_CHECKS))


def make_long(out_dir: Path, minutes: float, seed: int = 0) -> Path:
    """One ``minutes``-long log: five-minute blocks of the candidate typing, a paste and a pause
    (an impostor in the block at 30 minutes, a script in the one at 45), then typing to the end."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = minutes * 60.0
    plan: Plan = []
    for block in range(int(total // 300.0)):
        t0, who = block * 300.0, 1 if block == 6 else 0
        last = ("bot", "constant", t0 + 260.0) if block == 9 else ("type", who, t0 + 260.0)
        plan += [("type", who, t0 + 150.0), ("paste", 200), ("type", who, t0 + 240.0), last,
                 ("idle", t0 + 295.0), ("type", 0, t0 + 300.0)]
    plan.append(("type", 0, total))
    path = out_dir / f"keystrokes-long-{minutes:g}min-seed{seed}.json"
    make_session(path, plan, seed=seed, duration_s=total, typists={0: Typist(seed * 10), 1: Typist(seed * 10 + 1)})
    return path
