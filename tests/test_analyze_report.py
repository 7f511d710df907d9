"""``analyze`` on real generated media, and the report it writes (also rendered directly)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ml_service.local import analyze
from ml_service.sandbox.demo_media import make_photo, make_video, make_wav
from ml_service.local.modality_probe import ModalityError, guess_modality, reference_role
from ml_service.local.report import render_report
from ml_service.local.report.timeline import LABEL_W, PLOT_W, color_map, timeline_svg
from ml_service.core.results import ErrorCode, build_result, error_result, validate_result

ROOT = Path(__file__).resolve().parents[1]
EVIL = '<script>alert("x")</script>'
SECONDS = 4.0
DEBUG = "handlers.debug.debug.process"


# --- handlers run by analyze in its child process (by dotted path, like real ones) ---------

def flagging(submission):
    """Three violations per modality: early, mid-way, and one at the very end of the media."""
    violations = [
        {"type": "face_absent", "start_s": 1.0, "end_s": 2.0, "confidence": 0.9,
         "details": {"note": EVIL, "faces": [0, 1]}},
        {"type": "silence", "start_s": 1.6, "end_s": 2.4, "confidence": 0.5},
        {"type": "face_absent", "start_s": 3.95, "end_s": 4.0, "confidence": 0.3},
    ]
    return build_result(submission["modality"], violations, {"duration_s": SECONDS}, 0.01), "flagged"


def explode(submission):
    raise ZeroDivisionError("model exploded")


def hang(submission):
    import threading
    threading.Event().wait(3600)


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return {
        "webcam": make_video(folder / "cam.mp4", SECONDS, (640, 480), 10, audio=True),
        "screencast": make_video(folder / "screen.mp4", SECONDS, (1280, 720), 2),
        "audio": make_wav(folder / "mic.wav", SECONDS, gap=(1.6, 2.4)),
        "photo": make_photo(folder / "face.jpg"),
    }


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ml_service.local.analyze", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=240, check=False)


def _document(out: Path) -> dict:
    document = json.loads((out / "result.json").read_text())
    for run in document["modalities"].values():
        assert validate_result(run["result"]) == []
    return document


def _assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page and "://" not in page
    assert "<script" not in page.lower() and "@import" not in page
    for value in re.findall(r'\b(?:src|href)="([^"]*)"', page):
        assert value.startswith(("data:", "#")), value


# --- modality guess ------------------------------------------------------------------------

def test_modality_is_guessed_from_the_media(media, tmp_path):
    log = tmp_path / "keys.json"
    log.write_text("{}")
    assert guess_modality(media["webcam"]) == "webcam"
    assert guess_modality(media["screencast"]) == "screencast"
    assert guess_modality(media["audio"]) == "audio"
    assert guess_modality(log) == "keystrokes"
    with pytest.raises(ModalityError, match="--reference"):
        guess_modality(media["photo"])
    assert reference_role(media["photo"]) == "reference_photo"
    assert reference_role(media["audio"]) == "reference_voice"
    with pytest.raises(ModalityError):
        reference_role(media["webcam"])


# --- analyze end to end --------------------------------------------------------------------

def test_analyze_a_session_with_the_debug_handler(media, tmp_path):
    out = tmp_path / "out"
    done = _run(media["webcam"], media["screencast"], media["audio"], "--reference", media["photo"],
                "--handler", DEBUG, "--out", out)
    assert done.returncode == 0, done.stderr
    document = _document(out)
    assert document["schema"] == "ml-service/analyze/1" and document["session_id"] == "cam"
    runs = document["modalities"]
    assert list(runs) == ["webcam", "screencast", "audio"]
    for modality, run in runs.items():
        assert run["handler"] == DEBUG and run["note"] is None
        assert run["result"]["modality"] == modality and run["result"]["session_id"] == "cam"
        roles = [f["role"] for f in run["result"]["media"]["files"]]
        assert roles == ["recording", "reference_photo"]
    for line in ("MODALITY", "webcam", "screencast", "audio", "lowest trust score 1.00", "result.json"):
        assert line in done.stdout
    page = (out / "report.html").read_text()
    _assert_self_contained(page)
    for modality in runs:
        assert f'<section id="m-{modality}">' in page
    assert page.count('<svg class="timeline"') == 4  # the overview and one per modality
    assert page.count("No suspected violation.") == 3


def test_analyze_report_has_rows_thumbnails_and_escaping(media, tmp_path, capsys):
    out = tmp_path / "out"
    code = analyze.main([str(media["webcam"]), str(media["audio"]), "--out", str(out),
                         "--handler", "tests.test_analyze_report:flagging", "--session-id", "exam-7"])
    assert code == 0
    summary = capsys.readouterr().out
    assert re.search(r"webcam\s+face_absent\s+2\s+1\.1\s+26\.2%", summary), summary
    assert re.search(r"audio\s+silence\s+1\s+0\.8\s+20\.0%", summary), summary
    assert set(_document(out)["modalities"]) == {"webcam", "audio"}
    page = (out / "report.html").read_text()
    _assert_self_contained(page)
    for modality in ("webcam", "audio"):
        for index in range(3):
            assert f'<tr id="v-{modality}-{index}">' in page
            assert f'href="#v-{modality}-{index}"' in page  # timeline bar -> table row
    frames = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(frames) == 3  # one per webcam violation, the last one at the very end
    assert all(base64.b64decode(f).startswith(b"\xff\xd8") for f in frames)
    assert page.count('<svg class="wave"') == 3
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Session <code>exam-7</code>" in page


def test_missing_handler_falls_back_to_debug_and_says_so(media, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(analyze, "default_handler", lambda modality: "handlers.not_here.not_here.process")
    out = tmp_path / "out"
    assert analyze.main([str(media["audio"]), "--out", str(out)]) == 0
    run = _document(out)["modalities"]["audio"]
    assert run["handler"] == DEBUG and "handlers.not_here.not_here.process could not be loaded" in run["note"]
    assert "(fallback)" in capsys.readouterr().out
    assert "could not be loaded" in (out / "report.html").read_text()


@pytest.mark.parametrize(("handler", "extra", "code"), [
    ("tests.test_analyze_report:explode", [], ErrorCode.HANDLER_RAISED),
    ("handlers.not_here.not_here.process", [], ErrorCode.HANDLER_LOAD),  # named: no fallback
    ("tests.test_analyze_report:hang", ["--timeout", "1"], ErrorCode.TIMEOUT),
])
def test_a_failed_analysis_is_an_error_result(media, tmp_path, handler, extra, code):
    out = tmp_path / "out"
    done = _run(media["audio"], "--handler", handler, "--out", out, *extra)
    assert done.returncode == 1, done.stderr
    result = _document(out)["modalities"]["audio"]["result"]
    assert result["error_code"] == code and result["score"] == 0
    assert "analysis failed" in done.stdout
    assert f"error {int(code)} ({code.name})" in (out / "report.html").read_text()


def test_usage_errors_exit_2(media, tmp_path):
    options = tmp_path / "exam.json"
    options.write_text("[1, 2]")
    assert analyze.main([str(tmp_path / "absent.mp4")]) == 2
    assert analyze.main([str(media["photo"]), "--out", str(tmp_path)]) == 2
    assert analyze.main([str(media["audio"]), "--options", str(options), "--out", str(tmp_path)]) == 2
    assert analyze.main([str(media["audio"]), "--reference", str(media["photo"]), "--reference",
                         str(media["photo"]), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "result.json").exists()


# --- the report from stored results --------------------------------------------------------

def _hand_made():
    webcam = build_result("webcam", [
        {"type": "face_absent", "start_s": 10.0, "end_s": 40.0, "confidence": 1.0,
         "details": {EVIL: EVIL, "boxes": [[1, 2, 3, 4]]}},
        {"type": "multiple_faces", "start_s": 70.0, "end_s": 70.0, "confidence": 0.4},
        {"type": "face_absent", "start_s": 100.0, "end_s": 130.0, "confidence": 0.7},
    ], {"duration_s": 150.0, "frames_analysed": 1500}, 3.2)
    audio = build_result("audio", [{"type": "second_voice", "start_s": 20.0, "end_s": 25.0,
                                    "confidence": 0.6, "details": {"speaker": "B"}}], {"duration_s": 150.0}, 1.0)
    screen = error_result("screencast", ErrorCode.TIMEOUT, f"handler exceeded the limit {EVIL}")
    return {"webcam": webcam, "audio": audio, "screencast": screen}


def test_render_report_of_stored_results(tmp_path):
    path = render_report(_hand_made(), None, tmp_path)
    assert path == tmp_path / "report.html"
    page = path.read_text()
    _assert_self_contained(page)
    assert "<img" not in page and 'class="wave"' not in page  # no media, no thumbnail
    rows = re.findall(r'<tr id="(v-[a-z]+-\d+)">', page)
    assert rows == ["v-webcam-0", "v-webcam-1", "v-webcam-2", "v-audio-0"]
    assert page.count('<rect class="bar"') == 2 * 4  # in the overview and in each modality's timeline
    assert "1500 frames analysed" in page and "40.0 %" in page  # face_absent: 60 s of 150
    assert "error 5 (TIMEOUT)" in page and "Analysis failed" in page
    assert EVIL not in page and page.count("&lt;script&gt;") == 3  # detail key, detail value, msg
    assert '<span class="score bad">failed</span>' in page


def test_report_escapes_names_chosen_by_others(tmp_path):
    result = build_result('web"><i>cam', [{"type": "x", "start_s": 0, "end_s": 1, "confidence": 1}],
                          {"duration_s": 2}, 0)
    page = render_report({result["modality"]: result}, None, tmp_path / "r.html", session_id=EVIL,
                         runs={result["modality"]: {"handler": EVIL, "note": EVIL}}).read_text()
    assert "<i>" not in page and EVIL not in page
    assert 'id="m-web___i_cam"' in page and 'id="v-web___i_cam-0"' in page


def test_timeline_places_bars_in_proportion():
    violations = [("a", {"type": "t", "start_s": 0.0, "end_s": 50.0, "confidence": 1.0}),
                  ("b", {"type": "t", "start_s": 75.0, "end_s": 75.0, "confidence": 0.0})]
    svg = timeline_svg([("t", violations)], 100.0, color_map(["t"]))
    bars = re.findall(r'<rect class="bar" x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    assert bars == [(f"{LABEL_W:.1f}", f"{PLOT_W / 2:.1f}"), (f"{LABEL_W + PLOT_W * 0.75:.1f}", "2.0")]
    assert ">100 s</text>" in svg and 'fill-opacity="0.35"' in svg
    long = timeline_svg([], 3600.0, {})
    assert ">1:00:00</text>" in long and ">no violations</text>" in long


def test_long_lane_names_get_room_and_sections_of_one_modality_count_once(tmp_path):
    name = "keystrokes-typist-change-enrolled-1"
    bar = ("a", {"type": "t", "start_s": 0.0, "end_s": 1.0, "confidence": 1.0})
    svg = timeline_svg([(name, [bar]), ("t", [])], 10.0, color_map(["t"]))
    label_x = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end">' + name, svg).group(1))
    bar_x = float(re.search(r'<rect class="bar" x="([\d.]+)"', svg).group(1))
    assert label_x > len(name) * 7 and bar_x == label_x + 6  # the label ends where the plot begins
    results = {f"webcam-{i}": build_result("webcam", [], {"duration_s": 5.0}, 0.1) for i in range(3)}
    results["mic"] = build_result("audio", [], {"duration_s": 5.0}, 0.1)
    page = render_report(results, None, tmp_path / "r.html").read_text()
    assert "2 modalities in 4 parts" in page
