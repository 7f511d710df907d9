"""The keystroke real-set builder (ml_service.samples.realsets.keystrokes) on tiny source files made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.keystrokes.events import read_log
from ml_service.samples.realsets import keystrokes as real

RS, US = "\u001d", "\u001f"


def _fr_strokes(start_ms: int, text: str, gap_ms: int) -> str:
    """``text`` typed at ``gap_ms`` per character, then Backspace held (3 repeats at 33 ms)."""
    strokes = [f"{text[0]}{US}{start_ms}"] + [f"{c}{US}{gap_ms + i % 7}" for i, c in enumerate(text[1:])]
    strokes += [f"\u0000{US}5{US}5{US}400"] + [f"\u0000{US}4{US}4{US}33"] * 3
    strokes += [f"\u0002{US}3{US}renouvelables{US}900", f"x{US}200"]
    return RS.join(strokes)


def _fr_file(path: Path, students: int) -> Path:
    lines = []
    for s in range(students):
        for n in range(2):
            text = "les eleves ecrivent un texte argumente " * 12
            lines.append(json.dumps({"timestamp": f"2023-10-0{n + 1} 09:00:00,000", "student_id": f"{s:08d}-x",
                                     "keystrokes": _fr_strokes(1_696_000_000_000, text, 150 + 20 * s)}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _aalto_file(path: Path, pid: int) -> Path:
    rows = ["PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE"]
    t = 1_471_948_645_000
    for section in range(15):
        for k in range(40):
            rows.append(f"{pid}\t{section}\ts\ts\t{k}\t{t}\t{t + 90}\ta\t{65 + k % 26}")
            t += 180 + 10 * pid
        t += 30_000 if section == 3 else 4_000  # one long break between sentences
    path.write_text("\n".join(rows) + "\n")
    return path


def _villani_file(path: Path, users: int) -> Path:
    rows = ["user,session,keyname,timepress,timerelease"]
    for u in range(users):
        for session in range(6):
            t = 0
            for k in range(60):
                rows.append(f"{u},{session},{'abcdefghij'[k % 10]},{t},{t + 80 + 5 * u}")
                t += 170 + 15 * u + (3000 if k == 30 else 0)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_villani_enrolment_and_session_join_three_recordings_each(tmp_path: Path) -> None:
    enrol, session = real._villani_people([_villani_file(tmp_path / "v.csv", 2)])["1"]
    assert len(enrol) == len(session) == 3 * 60 and enrol[0].down == real._LEAD_S
    gaps = [b.down - a.down for a, b in zip(session, session[1:])]
    assert max(gaps) == pytest.approx(real.JOIN_GAP_S) and min(gaps) > 0  # recordings joined 10 s apart
    assert all(abs(s.up - s.down - 0.085) < 1e-9 for s in session)


def test_fr_strokes_become_keys_repeats_and_ignored_corrections() -> None:
    log = real._fr_log(_fr_strokes(1_696_000_000_000, "ab", 150))
    keys = [(s.kind, s.key, len(s.repeats)) for s in log]
    assert keys == [("key", "a", 0), ("key", "b", 0), ("key", "Backspace", 3), ("input", "", 0), ("key", "x", 0)]
    assert log[0].down == real._LEAD_S and abs(log[1].down - log[0].down - 0.15) < 1e-9
    assert log[2].up == log[2].repeats[-1]  # the held key is released at its last repeat


def test_aalto_enrolment_and_session_are_disjoint_sentences_with_short_breaks(tmp_path: Path) -> None:
    enrol, session = real._aalto_people([_aalto_file(tmp_path / "7.txt", 7)])["7"]
    assert len(enrol) == 7 * 40 and len(session) == 8 * 40
    gaps = [b.down - a.down for a, b in zip(enrol, enrol[1:])]
    assert max(gaps) <= real.MAX_SENTENCE_GAP_S and all(abs(s.up - s.down - 0.09) < 1e-6 for s in session[:5])


def test_build_writes_readable_sessions_with_truth_at_the_switch(tmp_path: Path) -> None:
    files = {"fr-1": _fr_file(tmp_path / "fr.json", 8)}
    files |= {f"aalto-{p}": _aalto_file(tmp_path / f"{p}.txt", p) for p in range(1, 9)}
    files["villani-free"] = _villani_file(tmp_path / "villani.csv", 8)
    samples = real.build(files, tmp_path / "out")
    kinds = {s.name.split("-")[3] for s in samples}
    assert kinds == {"clean", "change", "impostor"}
    for sample in samples:
        assert sample.recordings[1].name == f"{sample.name}.enrolment.json" and sample.checks == real.CHECKS
        vocab: dict[str, int] = {}
        session = read_log(sample.recordings[0], "s", vocab, 1 << 26)
        read_log(sample.recordings[1], "e", vocab, 1 << 26)
        kind = sample.name.split("-")[3]
        assert sample.clean == (kind == "clean")
        if kind == "change":
            start = sample.truth[0]["start_s"]
            assert 0 < start < sample.truth[0]["end_s"] and round(session.down_t.max(), 3) == sample.truth[0]["end_s"]
            assert any(abs(t - start) < 1e-6 for t in session.down_t)
        if kind == "impostor":
            assert sample.truth[0]["start_s"] == round(session.down_t.min(), 3)
    assert {real.half_of(f"fr:{s:08d}") for s in range(8)} == {"tune", "held"}
    assert {s.name.split("-")[1] for s in samples} == {"fr", "aalto", "villani"}
