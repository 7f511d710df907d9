"""Real typists: labelled keystroke sessions cut and spliced from public keystroke logs.

Three sources (see ``keystrokes.manifest.json``; no licence allows us to redistribute, so
nothing is committed):

- ``fr``, free text: argumentative essays typed by French 10th-grade students, 1-8 logs per
  student (one log per writing session, about 20 minutes each). The logs hold the characters
  typed, deletions and insertions with the time since the previous stroke (no key releases).
- ``aalto``, fixed text: the 136M Keystrokes transcription test (15 sentences per participant,
  key down and up times, JavaScript key codes).
- ``villani``, free text with key releases: answers to open essay questions by 55 university
  students and staff, 6 recording sessions each on different days, the first 500 keystrokes of
  each (key name, press and release in ms), as kept by the POHMM study's data.

Each log is turned into the handler's format (``keystrokes/1``): a stroke is a ``down`` of its
key (the character, lower-cased; a deletion is ``Backspace``); a stroke that repeats the same key
less than :data:`REPEAT_S` after it is the auto-repeat of a held key (a second ``down`` with no
``up``); where no release was logged the ``up`` has the ``down``'s time (a hold of 0 ms: the
handler reads it as unknown). Whole words put in by the browser's spelling correction become an
ignored ``input`` event. In ``aalto`` a pause between sentences is shortened to
:data:`MAX_SENTENCE_GAP_S`.

People are split by a hash of their id into ``tune`` and ``held`` halves; every sample name says
its source, half and kind: ``keys-<src>-<half>-<kind>-<A>[-<B>]``. Per person A of a half, with
the enrolment log from another writing session of A (``fr``: A's first log; ``aalto``: A's
sentences 1-7, the session using 8-15; ``villani``: A's recording sessions 1-3 joined, the session
joining 4-6; no overlap). Joined recordings are :data:`JOIN_GAP_S` apart:

- ``clean``: A throughout (``fr``: each of A's other logs);
- ``change``: A, then from a known time B (another person of the same half) to the end; the
  truth is one ``typist_change`` from B's first keystroke to B's last;
- ``impostor``: B throughout against A's enrolment; the truth covers the whole session.

The samples check ``typist_change``, ``paste_burst`` and ``automation`` (real typing holds no
paste and no script, so any of those two is a false alarm); ``idle`` is not scored here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from ml_service.samples import Sample

__all__ = ["CHECKS", "JOIN_GAP_S", "MAX_SENTENCE_GAP_S", "REPEAT_S", "build", "half_of"]

MODALITY = "keystrokes"
CHECKS = ["typist_change", "paste_burst", "automation"]
REPEAT_S = 0.045  # a held key repeats every ~33 ms; nobody presses one key twice this fast
MAX_SENTENCE_GAP_S = 20.0
JOIN_GAP_S = 10.0  # villani: the pause put between two joined recording sessions
_VILLANI_ENROL_SESSIONS = 3
_LEAD_S = 1.0  # the log starts this long before its first stroke
_AALTO_ENROL_SENTENCES = 7


class Stroke(NamedTuple):
    """One keystroke (times in s): its key, down and up, auto-repeat downs; or an ``input``."""

    down: float
    up: float
    key: str
    repeats: tuple[float, ...] = ()
    kind: str = "key"


Log = list[Stroke]


def half_of(person: str) -> str:
    """``tune`` or ``held``: a fixed split of the people by a hash of their id."""
    return "tune" if hashlib.sha256(person.encode()).digest()[0] % 2 == 0 else "held"


def build(files: dict[str, Path], out_dir: Path) -> list[Sample]:
    """Every session of both sources, written into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fr = _fr_people([p for i, p in sorted(files.items()) if i.startswith("fr-")])
    aalto = _aalto_people([p for i, p in sorted(files.items()) if i.startswith("aalto-")])
    villani = _villani_people([p for i, p in sorted(files.items()) if i.startswith("villani-")])
    samples = []
    for src, people in (("fr", fr), ("aalto", aalto), ("villani", villani)):
        for half in ("tune", "held"):
            names = sorted(p for p in people if half_of(f"{src}:{p}") == half)
            samples += _sessions(out_dir, src, half, {p: people[p] for p in names})
    return samples


# ---- fr: free-text essays ----

def _fr_people(paths: list[Path]) -> dict[str, list[Log]]:
    """Student (first 8 characters of the uuid) -> logs in time order; students with >= 2 logs."""
    by_student: dict[str, list[tuple[str, Log]]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                by_student.setdefault(record["student_id"][:8], []).append(
                    (record["timestamp"], _fr_log(record["keystrokes"])))
    return {s: [log for _, log in sorted(logs, key=lambda x: x[0])]
            for s, logs in by_student.items() if len(logs) >= 2}


def _fr_log(encoded: str) -> Log:
    log: Log = []
    t = _LEAD_S
    for number, stroke in enumerate(encoded.split("\u001d")):
        parts = stroke.split("\u001f")
        t += 0.0 if number == 0 else int(parts[-1]) / 1000.0
        text = "Backspace" if parts[0] == "\u0000" else parts[2] if parts[0] == "\u0002" else parts[0]
        if len(text) > 1 and text != "Backspace":
            log.append(Stroke(t, t, "", kind="input"))  # a word put in by spelling correction
        else:
            _add_key(log, t, text if text == "Backspace" else {"\n": "Enter"}.get(text, text.lower()))
    return log


def _add_key(log: Log, t: float, key: str) -> None:
    """A new keystroke, or the auto-repeat of the held key before it."""
    last = log[-1] if log else None
    if last and last.kind == "key" and last.key == key and t - (last.repeats or (last.down,))[-1] < REPEAT_S:
        log[-1] = last._replace(repeats=last.repeats + (t,), up=t)
    else:
        log.append(Stroke(t, t, key))


# ---- aalto: fixed-text sentences ----

def _aalto_people(paths: list[Path]) -> dict[str, tuple[Log, Log]]:
    """Participant -> (enrolment: sentences 1-7, session: sentences 8-15)."""
    people = {}
    for path in paths:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8", errors="replace")),
                                   delimiter="\t", quoting=csv.QUOTE_NONE))
        sentences: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            sentences.setdefault(row["TEST_SECTION_ID"], []).append(row)
        parts = list(sentences.values())
        people[rows[0]["PARTICIPANT_ID"]] = (_aalto_log(parts[:_AALTO_ENROL_SENTENCES]),
                                             _aalto_log(parts[_AALTO_ENROL_SENTENCES:]))
    return people


def _aalto_log(sentences: list[list[dict[str, str]]]) -> Log:
    log: Log = []
    shift, last = None, None
    for rows in sentences:
        start = int(rows[0]["PRESS_TIME"]) / 1000.0
        if shift is None:
            shift = _LEAD_S - start
        elif start + shift - last > MAX_SENTENCE_GAP_S:
            shift = last + MAX_SENTENCE_GAP_S - start
        for row in rows:
            down, up = int(row["PRESS_TIME"]) / 1000.0 + shift, int(row["RELEASE_TIME"]) / 1000.0 + shift
            if log and down < log[-1].down:
                continue  # out of order in the source
            log.append(Stroke(down, up if up >= down else down, f"k{row['KEYCODE']}"))
        last = log[-1].down
    return log


# ---- villani: free text with releases ----

def _villani_people(paths: list[Path]) -> dict[str, tuple[Log, Log]]:
    """User -> (enrolment: recording sessions 1-3 joined, session: 4-6 joined)."""
    recordings: dict[str, dict[int, Log]] = {}
    for path in paths:
        for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            down, up = int(row["timepress"]) / 1000.0, int(row["timerelease"]) / 1000.0
            log = recordings.setdefault(row["user"], {}).setdefault(int(row["session"]), [])
            log.append(Stroke(down, max(up, down), row["keyname"]))
    people = {}
    for user, by_session in recordings.items():
        logs = [sorted(by_session[n]) for n in sorted(by_session)]
        if len(logs) > _VILLANI_ENROL_SESSIONS:
            people[user] = (_joined(logs[:_VILLANI_ENROL_SESSIONS]), _joined(logs[_VILLANI_ENROL_SESSIONS:]))
    return people


def _joined(logs: list[Log]) -> Log:
    """Recordings one after the other, :data:`JOIN_GAP_S` between the last key of one and the next."""
    out: Log = []
    for log in logs:
        offset = (_LEAD_S if not out else out[-1].down + JOIN_GAP_S) - log[0].down
        out += [s._replace(down=s.down + offset, up=s.up + offset) for s in log]
    return out


# ---- sessions ----

def _sessions(out_dir: Path, src: str, half: str, people: dict[str, Any]) -> list[Sample]:
    names = list(people)
    rng = np.random.default_rng(list(f"{src}{half}".encode()))
    samples = []
    for i, a in enumerate(names):
        enrol, own = _enrol_and_own(src, people[a])
        b, b2 = names[(i + 1) % len(names)], names[(i + 2) % len(names)]
        for n, log in enumerate(own):
            samples.append(_sample(out_dir, f"keys-{src}-{half}-clean-{a}-{n + 1}", log, enrol, None))
        if len(names) < 3:
            continue  # B and the impostor must be two other people
        b_log = _enrol_and_own(src, people[b])[1][-1]
        switch = _switch_time(own[0], b_log, src, rng)
        samples.append(_sample(out_dir, f"keys-{src}-{half}-change-{a}-{b}", _splice(own[0], b_log, switch, src),
                               enrol, switch))
        impostor = _enrol_and_own(src, people[b2])[1][-1]
        samples.append(_sample(out_dir, f"keys-{src}-{half}-impostor-{a}-{b2}", impostor, enrol, 0.0))
    return samples


def _enrol_and_own(src: str, person: Any) -> tuple[Log, list[Log]]:
    return (person[0], list(person[1:])) if src == "fr" else (person[0], [person[1]])  # aalto, villani


def _switch_time(a: Log, b: Log, src: str, rng: np.random.Generator) -> float:
    """``fr``: B takes over at 30-70 % of the shorter log; ``aalto``, ``villani``: after A's log."""
    if src != "fr":
        return a[-1].down + 4.0
    return float(rng.uniform(0.3, 0.7) * min(a[-1].down, b[-1].down))


def _splice(a: Log, b: Log, switch: float, src: str) -> Log:
    """A's keystrokes before ``switch``, then B's: ``fr`` cuts both logs at the same time,
    ``aalto`` and ``villani`` move B's log to start at ``switch``."""
    if src != "fr":
        offset = switch - b[0].down
        return a + [s._replace(down=s.down + offset, up=s.up + offset,
                               repeats=tuple(r + offset for r in s.repeats)) for s in b]
    return [s for s in a if s.down < switch and s.up < switch] + [s for s in b if s.down >= switch]


def _sample(out_dir: Path, name: str, log: Log, enrol: Log, switch: float | None) -> Sample:
    path = _write(out_dir / f"{name}.json", log)
    enrolment = _write(out_dir / f"{name}.enrolment.json", enrol)
    truth = []
    if switch is not None:
        other = [s.down for s in log if s.kind == "key" and s.down >= switch]
        truth = [{"type": "typist_change", "start_s": round(other[0], 3), "end_s": round(other[-1], 3)}]
    duration = max(s.up for s in log) + 1.0
    return Sample(name=name, modality=MODALITY, recordings=[path, enrolment], duration_s=round(duration, 3),
                  truth=truth, clean=not truth, options={"checks": CHECKS}, checks=CHECKS)


def _events(log: Log) -> Iterator[tuple[float, int, dict[str, Any]]]:
    for order, s in enumerate(log):
        if s.kind == "input":
            yield s.down, order, {"type": "input"}
            continue
        yield s.down, order, {"type": "down", "key": s.key}
        for r in s.repeats:
            yield r, order, {"type": "down", "key": s.key}
        yield s.up, order, {"type": "up", "key": s.key}


def _write(path: Path, log: Log) -> Path:
    events = [{"t": int(round(t * 1000)), **e} for t, _, e in sorted(_events(log), key=lambda x: x[:2])]
    end = max(e["t"] for e in events) + 1000
    doc = {"format": "keystrokes/1", "time_unit": "ms", "duration": end, "events": events}
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return path
