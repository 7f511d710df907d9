"""handlers.screencast on short screen recordings generated on the fly (never skipped).

The clips come from ``ml_service.samples.screencast.make_clip`` (drawn frames, libx264), each
at most 20 s, so that the whole file stays well under a minute of CPU.
"""

from __future__ import annotations

import json
import pkgutil
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from handlers.screencast import screencast
from handlers.screencast.changes import content_box
from handlers.screencast.matching import DEFAULT_DENY_LIST, Matcher
from ml_service.samples.evaluation import interval_iou, match_events
from ml_service.core.results import ErrorCode, validate_result
from ml_service.samples.screencast import make_clip

CLIPS = {
    # window switch to ChatGPT, blank screen, exam shown at 1024x768 (pillarbox)
    "violations": [("exam", 4), ("window", 5, "chatgpt"), ("exam", 3), ("blank", 3), ("exam", 2), ("pillarbox", 3)],
    # a frozen stretch and a WhatsApp notification over the exam page
    "frozen_popup": [("exam", 3), ("frozen", 8), ("exam", 3), ("popup", 4, "whatsapp"), ("exam", 2)],
    "clean": [("exam", 15, "scroll")],  # typing, a ticking timer, the page scrolling
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict]]]:
    missing = [tool for tool in ("ffmpeg", "ffprobe", "tesseract") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: run handlers/screencast/install.sh "
                    "(Debian packages ffmpeg, tesseract-ocr); handler tests must not be skipped")
    root = tmp_path_factory.mktemp("screencast")
    return {name: make_clip(root / f"{name}.mp4", segments, fps=5, seed=3) for name, segments in CLIPS.items()}


def _run(paths: list[Path], options: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    submission = {
        "submission_id": 9,
        "session_id": "exam42-student7",
        "modality": "screencast",
        "options": options or {},
        "recordings": [{"name": p.name, "path": str(p), "size": p.stat().st_size if p.exists() else 0}
                       for p in paths],
        "reference_photo": None,
        "reference_voice": None,
        "work_dir": str(paths[0].parent),
    }
    result, msg = screencast.process(json.loads(json.dumps(submission)))
    assert validate_result(result) == []
    assert json.loads(json.dumps(result)) == result  # travels as JSON between processes
    assert isinstance(msg, str) and msg
    return result, msg


def _of(result: dict[str, Any], vtype: str) -> list[dict[str, Any]]:
    return [v for v in result["violations"] if v["type"] == vtype]


def _assert_found(truth: list[dict], result: dict[str, Any], min_iou: float = 0.6) -> None:
    """Every truth event is found once, tightly, and nothing else is reported."""
    predicted = result["violations"]
    pairs = match_events(truth, predicted)
    assert len(pairs) == len(truth) == len(predicted), (truth, predicted)
    for ti, pi in pairs:
        assert interval_iou(truth[ti], predicted[pi]) >= min_iou, (truth[ti], predicted[pi])


def test_process_is_what_ml_analyzer_names() -> None:
    assert pkgutil.resolve_name("handlers.screencast.screencast.process") is screencast.process


def test_switch_forbidden_blank_and_resolution_found(clips: dict) -> None:
    path, truth = clips["violations"]
    assert {e["type"] for e in truth} == {"window_switch", "forbidden_content", "blank_screen", "resolution_change"}
    result, msg = _run([path])
    assert result["error_code"] == ErrorCode.OK and result["modality"] == "screencast"
    _assert_found(truth, result)
    assert result["score"] < 1.0 and "1 window_switch" in msg
    assert result["media"]["duration_s"] == pytest.approx(20.0, abs=0.6)
    [resized] = _of(result, "resolution_change")
    assert resized["details"]["to"] == "960x720" and resized["details"]["cue"] == "pillarbox"


def test_frozen_screen_and_notification_found(clips: dict) -> None:
    path, truth = clips["frozen_popup"]
    result, _ = _run([path], {"frozen_screen_min_s": 5})
    _assert_found(truth, result)
    [popup] = _of(result, "forbidden_content")
    assert popup["details"]["terms"] == ["WhatsApp"] and popup["details"]["categories"] == ["messenger"]
    x, y, w, h = popup["details"]["region"]
    assert x > 640 and y > 360 and w * h > 0  # the notification's corner of the screen


def test_clean_clip_has_no_violations(clips: dict) -> None:
    path, truth = clips["clean"]
    assert truth == []
    result, msg = _run([path])
    assert result["violations"] == [] and result["stats"] == {} and result["score"] == 1.0
    assert msg.endswith("no violations")
    facts = result["media"]["files"][0]
    assert facts["frames_analysed"] == 30 and facts["ocr_regions"] >= 1


def test_forbidden_text_and_window_title_in_details(clips: dict) -> None:
    result, _ = _run([clips["violations"][0]])
    [switch] = _of(result, "window_switch")
    assert "ChatGPT" in switch["details"]["title"]
    assert "Exam 42" in switch["details"]["exam_window_title"]
    [forbidden] = _of(result, "forbidden_content")
    details = forbidden["details"]
    assert details["terms"] == ["ChatGPT"] and details["categories"] == ["ai_assistant"]
    assert "chatgpt" in details["text"].lower()
    assert len(details["region"]) == 4 and all(isinstance(v, int) for v in details["region"])
    assert all({"term", "category", "text", "box"} <= set(m) for m in details["matches"])


def test_deny_list_option_replaces_the_defaults(clips: dict) -> None:
    result, _ = _run([clips["violations"][0]], {"deny_list": ["New chat"]})
    [forbidden] = _of(result, "forbidden_content")
    assert forbidden["details"]["terms"] == ["New chat"]  # ChatGPT is no longer on the list
    assert result["media"]["options"]["deny_terms"] == 1


def test_allow_list_lifts_deny_terms_and_flags_other_windows(clips: dict) -> None:
    path = clips["violations"][0]
    allowed, _ = _run([path], {"allow_list": ["Exam 42", "ChatGPT"]})
    assert _of(allowed, "forbidden_content") == [] and len(_of(allowed, "window_switch")) == 1
    strict, _ = _run([path], {"allow_list": ["Exam 42"], "deny_list": []})
    [outside] = _of(strict, "forbidden_content")
    assert outside["details"]["categories"] == ["outside_allow_list"]
    assert "ChatGPT" in outside["details"]["text"]


def test_thresholds_and_switches_come_from_options(clips: dict) -> None:
    frozen, _ = _run([clips["frozen_popup"][0]], {"screen_ocr": False})
    assert _of(frozen, "frozen_screen") == []  # 8 s is under the default 30 s
    assert frozen["media"]["checks"] == ["blank_screen", "frozen_screen", "resolution_change"]
    result, _ = _run([clips["violations"][0]], {"screen_ocr": False, "blank_screen_min_s": 5})
    assert [v["type"] for v in result["violations"]] == ["resolution_change"]  # the 3 s blank is too short
    assert result["media"]["files"][0]["ocr_regions"] == 0


def test_recordings_of_one_session_follow_each_other(clips: dict) -> None:
    clean, violations = clips["clean"][0], clips["violations"][0]
    result, _ = _run([clean, violations], {"screen_ocr": False})
    [blank] = _of(result, "blank_screen")
    assert blank["start_s"] == pytest.approx(15.0 + 12.0, abs=0.6)
    assert [f["offset_s"] for f in result["media"]["files"]] == [0.0, pytest.approx(15.0, abs=0.6)]


def test_a_change_of_frame_size_is_a_resolution_change(tmp_path: Path) -> None:
    parts = []
    for i, size in enumerate(("640x360", "480x360", "640x360")):
        part = tmp_path / f"part{i}.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=5:d=4",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts", str(part)], check=True)
        parts.append(part.read_bytes())
    joined = tmp_path / "resized.ts"
    joined.write_bytes(b"".join(parts))
    result, _ = _run([joined], {"screen_ocr": False})
    [resized] = result["violations"]
    assert resized["type"] == "resolution_change"
    assert (resized["start_s"], resized["end_s"]) == (pytest.approx(4.0, abs=0.6), pytest.approx(8.0, abs=0.6))
    assert resized["details"]["to"] == "480x360"


@pytest.mark.parametrize("kind", ["truncated", "noise", "audio_only", "missing"])
def test_unreadable_recordings_give_a_clear_error_result(clips: dict, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.mp4"
    if kind == "truncated":
        data = clips["clean"][0].read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "noise":
        path.write_bytes(random.Random(5).randbytes(40_000))
    elif kind == "audio_only":
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(path.with_suffix(".wav"))],
                       check=True)
        path = path.with_suffix(".wav")
    result, msg = _run([path])
    assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE and result["score"] == 0.0
    assert msg.startswith(f"recording {path.name} is unreadable: ") and result["msg"] == msg


def test_bad_options_and_no_recording_are_bad_submissions(clips: dict) -> None:
    result, msg = _run([clips["clean"][0]], {"frozen_screen_min_s": "long", "allow_list": "Exam 42"})
    assert result["error_code"] == ErrorCode.BAD_SUBMISSION
    assert "frozen_screen_min_s" in msg and "allow_list" in msg
    empty, msg = screencast.process({"session_id": "s", "modality": "screencast", "recordings": []})
    assert empty["error_code"] == ErrorCode.BAD_SUBMISSION and validate_result(empty) == []
    assert msg == "no screen recording in the submission"


@pytest.mark.parametrize("text", ["ChatGPT - Google Chrome", "https://chatgpt.com/c/6f1e", "Chat GPT",
                                  "WhatsAop Web", "Whats App", "STACK 0VERFLOW", "www.google.com/search?q=x"])
def test_deny_terms_survive_ocr_noise(text: str) -> None:
    assert Matcher(DEFAULT_DENY_LIST).denied(text)


@pytest.mark.parametrize("text", ["discard the first row", "a poem by Poe", "slack variable", "messenger RNA",
                                  "Google Chrome", "signal processing", "The characteri",
                                  "Экзамен 42: Линейная алгебра — вопрос 2 из 5", "быть в контакте с преподавателем",
                                  "знания и умения", "ответы на вопросы", "поиск собственных значений"])
def test_ordinary_words_are_not_deny_terms(text: str) -> None:
    assert Matcher(DEFAULT_DENY_LIST).denied(text) == []


@pytest.mark.parametrize(("text", "term"), [
    ("Мария: скиньте в Телеграм", "Телеграм"),
    ("Тeлeгpaм", "Телеграм"),  # Latin e, p, a inside the Cyrillic word, as rus+eng OCR reads it
    ("Ответы Mail.ru: как найти ранг матрицы", "Ответы Mail.ru"),
    ("ранг матрицы — Яндекс: нашлось 2 млн результатов", "Яндекс"),
    ("ГДЗ по алгебре 9 класс", "ГДЗ"),
    ("Мессенджер ВКонтакте", "Мессенджер ВКонтакте"),
    ("Яндекс Переводчик", "Яндекс Переводчик"),
    ("Telegram Web — Иван Петров", "Telegram"),  # mixed-language line
])
def test_russian_deny_terms_are_found(text: str, term: str) -> None:
    assert term in [t.text for t in Matcher(DEFAULT_DENY_LIST).denied(text)]


def test_content_box_needs_centred_bars() -> None:
    import numpy as np

    frame = np.full((180, 320), 200, np.uint8)
    assert content_box(frame) == (0, 0, 320, 180)
    frame[:, :40] = frame[:, 280:] = 16  # pillarbox
    assert content_box(frame) == (40, 0, 240, 180)
    frame[:, 280:] = 200  # a dark band on one side only is page content, not bars
    assert content_box(frame) == (0, 0, 320, 180)
