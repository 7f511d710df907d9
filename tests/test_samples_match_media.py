"""The generators' truth checked against the media they wrote, by independent means (issue 6).

Each generator in ``ml_service/samples`` both writes media and states what is in it. These tests
decode the written files (ffmpeg / OpenCV) and measure, with methods that share nothing with the
handlers, whether the stated truth is really there, so the truth used to score the handlers can
be trusted:

- webcam: dlib's HOG frontal face detector (the handler uses MediaPipe) and mean luma;
- audio: frame RMS of the decoded 16 kHz signal;
- screencast: mean luma and pixel differences of decoded frames;
- keystrokes: the JSON log's events, counted directly.

Clips are short (webcam: scenarios made with ``make_clip``; screencast: two entries of the
labelled set made with ``make_clip`` exactly as ``generate`` makes them; audio and keystrokes:
``generate`` with seed 0). Never skipped: a missing tool fails with the command to install it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ml_service.samples import audio as audio_gen
from ml_service.samples import keystrokes as keys_gen
from ml_service.samples import screencast as screen_gen
from ml_service.samples import webcam as webcam_gen

RATE = 16000


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is not on PATH: apt-get install -y ffmpeg (these tests are never skipped)")
    return exe


def _inside(t: float, start: float, end: float, margin: float = 0.0) -> bool:
    return start + margin <= t < end - margin


def _outside_all(t: float, truth: list[dict], margin: float) -> bool:
    return all(not (e["start_s"] - margin <= t < e["end_s"] + margin) for e in truth)


# --- webcam --------------------------------------------------------------------------------

# name: (seconds, candidate, events), mirroring entries of webcam._SET at test length
WEBCAM_CLIPS: dict[str, tuple[float, str, list[tuple]]] = {
    "leaves-then-second-near.mp4": (17, "astronaut", [("away", 3, 8), ("second", 10, 15, "lfw26", 110)]),
    "dark-and-covered.webm": (13, "astronaut", [("dark", 2, 6), ("cover", 8, 11)]),
    "clean.mp4": (6, "lfw0", []),
}


def _luma(bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _sample_frames(path: Path, every_s: float = 1.0) -> list[tuple[float, np.ndarray]]:
    """(time, RGB frame) about every ``every_s`` seconds, at the middle of each second.

    Every frame is grabbed (so the index, and so the time, is exact for these constant-rate
    clips); only the sampled ones are converted."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        pytest.fail(f"OpenCV cannot open {path.name}: pip install opencv-contrib-python==5.0.0.93")
    fps = cap.get(cv2.CAP_PROP_FPS) or webcam_gen.FPS
    step = max(1, int(round(every_s * fps)))
    out, i = [], 0
    while cap.grab():
        if i % step == step // 2:
            ok, bgr = cap.retrieve()
            assert ok, f"{path.name}: frame {i} grabbed but not decoded"
            out.append((i / fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        i += 1
    cap.release()
    assert out, f"{path.name}: no frame decoded"
    return out


@pytest.fixture(scope="module")
def webcam_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[dict], list[tuple]]]:
    """name -> (truth, [(t, faces, mean luma, luma std)]) for each clip, faces counted by dlib's HOG."""
    _ffmpeg()
    try:
        import dlib
    except ImportError:
        pytest.fail("dlib is missing: pip install dlib-bin (these tests are never skipped)")
    detector = dlib.get_frontal_face_detector()  # HOG + linear SVM, no model file
    root = tmp_path_factory.mktemp("webcam-truth")
    out = {}
    for k, (name, (seconds, who, events)) in enumerate(WEBCAM_CLIPS.items()):
        path, truth = webcam_gen.make_clip(root / name, seconds, events, who=who, seed=k)
        rows = []
        for t, rgb in _sample_frames(path):
            # upsample 0: finds faces from about 80 px; the near second face (110 px sprite) is
            # seen at this setting, the candidate (170 px sprite) always
            y = _luma(rgb[..., ::-1])
            rows.append((t, len(detector(rgb, 0)), float(y.mean()), float(y.std())))
        out[name] = (truth, rows)
    return out


def _face_share(webcam_clips, kind: str, ok) -> list[tuple[dict, float, list[int]]]:
    """Per ``kind`` span of the mixed clip: the share of HOG face counts inside it (1 s
    margins) for which ``ok(count)`` holds, and those counts (at least 3 per span)."""
    truth, rows = webcam_clips["leaves-then-second-near.mp4"]
    spans = [e for e in truth if e["type"] == kind]
    assert spans, truth
    out = []
    for e in spans:
        inside = [faces for t, faces, *_ in rows if _inside(t, e["start_s"], e["end_s"], margin=1.0)]
        assert len(inside) >= 3, (e, rows)
        out.append((e, sum(ok(f) for f in inside) / len(inside), inside))
    return out


def test_webcam_face_absent_intervals_have_no_face(webcam_clips):
    for e, no_face, inside in _face_share(webcam_clips, "face_absent", lambda f: f == 0):
        assert no_face >= 0.9, f"face_absent {e}: HOG saw no face on only {no_face:.0%} of {inside}"


def test_webcam_face_present_outside_truth(webcam_clips):
    """On the clean clip, and outside every truth interval (1 s margins) of the others, the
    candidate's face is there and seen."""
    outside = []
    for name, (truth, rows) in webcam_clips.items():
        outside += [(name, t, faces) for t, faces, *_ in rows if _outside_all(t, truth, margin=1.0)]
    assert len(outside) >= 10 and {n for n, _, _ in outside} == set(WEBCAM_CLIPS), outside
    present = sum(f >= 1 for _, _, f in outside) / len(outside)
    assert present >= 0.8, f"a face on only {present:.0%} of frames outside the truth: {outside}"


def test_webcam_multiple_faces_intervals_have_two_faces(webcam_clips):
    # Only the near second face (110 px sprite, as in webcam-second-person-near) is checked:
    # HOG at upsample 0 cannot see the far faces (32-40 px sprites, webcam-second-person-far),
    # and upsampling would quadruple the cost.
    for e, two, inside in _face_share(webcam_clips, "multiple_faces", lambda f: f >= 2):
        assert two >= 0.8, f"multiple_faces {e}: two faces on only {two:.0%} of {inside}"
    truth, rows = webcam_clips["leaves-then-second-near.mp4"]
    spans = [e for e in truth if e["type"] == "multiple_faces"]
    # and never two faces outside the interval
    assert all(f <= 1 for t, f, *_ in rows if not any(e["start_s"] - 1 <= t < e["end_s"] + 1 for e in spans))


def test_webcam_blocked_or_dark_intervals_are_dark(webcam_clips):
    truth, rows = webcam_clips["dark-and-covered.webm"]
    spans = [e for e in truth if e["type"] == "camera_blocked_or_dark"]
    assert len(spans) == 2, truth
    lit = [y for t, _, y, _ in rows if _outside_all(t, truth, margin=1.0)]
    assert lit and min(lit) > 80, rows
    for e in spans:
        inside = [(y, sd, f) for t, f, y, sd in rows if _inside(t, e["start_s"], e["end_s"], margin=0.5)]
        assert len(inside) >= 2, (e, rows)
        assert all(f == 0 for *_, f in inside), f"{e}: a face seen through a dark/covered camera: {inside}"
        # lights off: very low luma; lens covered: a flat, dim, featureless picture (the generator
        # tints it like skin, mean luma ~45), far below the lit room either way
        for y, sd, _ in inside:
            assert y < 0.4 * min(lit) and (y < 15 or sd < 8), f"{e}: luma {y:.1f} (std {sd:.1f}), lit {lit}"
    assert min(y for t, _, y, _ in rows if _inside(t, spans[0]["start_s"], spans[0]["end_s"], 0.5)) < 15


# --- audio ---------------------------------------------------------------------------------


def _decode_audio(path: Path) -> np.ndarray:
    raw = subprocess.run([_ffmpeg(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(RATE), "-"],
                         capture_output=True, check=True, stdin=subprocess.DEVNULL).stdout
    return np.frombuffer(raw, np.float32)


FRAME_S = 0.05


def _frame_db(x: np.ndarray) -> np.ndarray:
    n = int(FRAME_S * RATE)
    frames = x[: len(x) // n * n].reshape(-1, n).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def _frames_in(db: np.ndarray, start: float, end: float) -> np.ndarray:
    return db[int(np.ceil(start / FRAME_S)): int(end / FRAME_S)]


@pytest.fixture(scope="module")
def audio_samples(tmp_path_factory: pytest.TempPathFactory):
    """(sample, frame dB) for the twelve labelled clips and two clean ones, seed 0."""
    _ffmpeg()
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not on PATH: apt-get install -y espeak-ng (or run handlers/audio/install.sh)")
    samples = audio_gen.generate(tmp_path_factory.mktemp("audio-truth"), seed=0, clean_clips=2)
    return [(s, _frame_db(_decode_audio(s.recordings[0]))) for s in samples]


def test_audio_mute_intervals_are_silent_and_only_they(audio_samples):
    muted = 0
    for s, db in audio_samples:
        for e in (e for e in s.truth if e["type"] == "mic_muted_or_dead"):
            muted += 1
            inside = _frames_in(db, e["start_s"] + 0.1, e["end_s"] - 0.1)
            assert inside.size and np.median(inside) < -80, (s.name, e, np.median(inside))
            # A dead microphone records no keyboard clicks either (the generator once added some).
            assert inside.max() < -70, f"{s.name} {e}: loudest frame inside the mute is {inside.max():.1f} dBFS"
            for edge in (_frames_in(db, e["start_s"] - 1.0, e["start_s"] - 0.1),
                         _frames_in(db, e["end_s"] + 0.1, e["end_s"] + 1.0)):
                assert edge.size and np.median(edge) > -70, f"{s.name} {e}: the mute extends past its truth"
    assert muted >= 3


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for m in mask:
        run = run + 1 if m else 0
        best = max(best, run)
    return best


def test_audio_no_long_silence_outside_mute_truth(audio_samples):
    """Clean clips (and every clip outside its mute truth) never go digitally silent for 0.5 s."""
    assert sum(s.clean for s, _ in audio_samples) == 2
    for s, db in audio_samples:
        mask = db < -70
        for e in (e for e in s.truth if e["type"] == "mic_muted_or_dead"):
            mask[int(e["start_s"] / FRAME_S) - 2: int(np.ceil(e["end_s"] / FRAME_S)) + 2] = False
        run = _longest_run(mask) * FRAME_S
        assert run < 0.5, f"{s.name}: {run:.2f} s below -70 dBFS outside any mic_muted_or_dead truth"


def test_audio_speech_intervals_are_far_above_the_floor(audio_samples):
    checked = 0
    for s, db in audio_samples:
        mute = [e for e in s.truth if e["type"] == "mic_muted_or_dead"]
        keep = np.ones(db.size, bool)
        for e in mute:
            keep[int(e["start_s"] / FRAME_S) - 2: int(np.ceil(e["end_s"] / FRAME_S)) + 2] = False
        floor = np.percentile(db[keep], 10)  # the quietest non-muted part: room tone
        for e in (e for e in s.truth if e["type"] == "speech"):
            inside = _frames_in(db, e["start_s"], e["end_s"])
            loud = np.percentile(inside, 75)
            assert loud - floor >= 15, (
                f"{s.name} {e}: speech 75th-percentile frame {loud:.1f} dBFS, floor {floor:.1f} dBFS")
            # the interval starts and ends on speech, not on room tone
            assert _frames_in(db, e["start_s"], e["start_s"] + 0.3).max() - floor >= 10, (s.name, e)
            assert _frames_in(db, e["end_s"] - 0.3, e["end_s"]).max() - floor >= 10, (s.name, e)
            checked += 1
    assert checked >= 15


# --- screencast ----------------------------------------------------------------------------

SCREEN_CLIPS = ("mixed", "search-then-chatgpt")
THUMB = (320, 180)


def _screen_stats(path: Path, fps: int):
    """Per frame: mean luma, pixels changed by > 24 levels since the previous frame, thumbnail."""
    import cv2

    w, h = screen_gen.W, screen_gen.H
    proc = subprocess.Popen([_ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    luma, changed, thumbs, prev = [], [], [], None
    while True:
        buf = proc.stdout.read(w * h)
        if len(buf) < w * h:
            break
        y = np.frombuffer(buf, np.uint8).reshape(h, w)
        luma.append(float(y.mean()))
        changed.append(-1 if prev is None else int(np.count_nonzero(cv2.absdiff(y, prev) > 24)))
        thumbs.append(cv2.resize(y, THUMB, interpolation=cv2.INTER_AREA))
        prev = y
    proc.wait()
    assert proc.returncode == 0 and luma, f"ffmpeg could not decode {path.name}"
    times = np.arange(len(luma)) / fps
    return times, np.array(luma), np.array(changed), thumbs


@pytest.fixture(scope="module")
def screen_clips(tmp_path_factory: pytest.TempPathFactory):
    """name -> (truth, times, luma, changed, thumbs) for two entries of the labelled set,
    made by make_clip with generate()'s own arguments for seed 0."""
    _ffmpeg()
    root = tmp_path_factory.mktemp("screencast-truth")
    names = [entry[0] for entry in screen_gen._SET]
    out = {}
    for name in SCREEN_CLIPS:
        i = names.index(name)
        _, fps, segments, options = screen_gen._SET[i]
        path, truth = screen_gen.make_clip(root / f"screencast-{name}.mp4", segments, fps, 0 * 100 + i,
                                           options.get("allow_list", []))
        out[name] = (truth, fps, *_screen_stats(path, fps))
    return out


def test_screencast_blank_intervals_are_black(screen_clips):
    truth, fps, times, luma, _, _ = screen_clips["mixed"]
    spans = [e for e in truth if e["type"] == "blank_screen"]
    assert spans, truth
    for e in spans:
        inside = luma[(times >= e["start_s"]) & (times < e["end_s"])]
        assert inside.size >= fps and inside.max() < 10, f"{e}: frame luma {inside.min():.1f}..{inside.max():.1f}"
        # the frames right before and after are not black: the interval is exactly the blank stretch
        before = luma[(times >= e["start_s"] - 1) & (times < e["start_s"])]
        after = luma[(times >= e["end_s"]) & (times < e["end_s"] + 1)]
        assert before.min() > 50 and after.min() > 50, (e, before, after)
    for name, (truth, _, times, luma, _, _) in screen_clips.items():
        blank = [e for e in truth if e["type"] == "blank_screen"]
        outside = [y for t, y in zip(times, luma) if _outside_all(t, blank, margin=0.0)]
        assert min(outside) > 50, f"{name}: a near-black frame outside the blank_screen truth"


def test_screencast_frozen_intervals_do_not_change(screen_clips):
    truth, fps, times, luma, changed, _ = screen_clips["mixed"]
    spans = [e for e in truth if e["type"] == "frozen_screen"]
    assert spans, truth
    live = changed[(times > 0) & np.array([_outside_all(t, truth, margin=0.0) for t in times])]
    for e in spans:
        sel = (times > e["start_s"]) & (times < e["end_s"])
        inside = changed[sel]
        assert inside.size >= fps * (e["end_s"] - e["start_s"]) - 2
        # bit-identical after decoding, except around H.264 keyframes (each re-codes the same
        # picture: measured ~80 of 921,600 pixels)
        assert np.mean(inside == 0) >= 0.9, f"{e}: only {np.mean(inside == 0):.0%} of frozen frames unchanged"
        assert inside.max() <= 100, f"{e}: up to {inside.max()} pixels changed between frozen frames"
        assert luma[sel].min() > 50, f"{e}: the frozen picture is blank, not frozen"
    # the live exam page changes on nearly every frame (cursor, countdown, typing; >100 pixels)
    assert np.mean(live > 100) > 0.9, f"only {np.mean(live > 100):.0%} of live frames change"


def test_screencast_window_switch_starts_change_the_picture(screen_clips):
    checked = 0
    for name, (truth, fps, times, luma, changed, thumbs) in screen_clips.items():
        def at(t: float) -> np.ndarray:
            return thumbs[min(int(round(t * fps)), len(thumbs) - 1)].astype(np.int16)

        def changed_part(a: float, b: float) -> float:  # share of pixels changed by > 24 levels
            return float(np.mean(np.abs(at(a) - at(b)) > 24))

        # how much the live exam page changes in a second (baseline)
        calm = [changed_part(t, t - 1) for t in np.arange(2, times[-1], 2.0) if _outside_all(t, truth, margin=1.5)]
        assert calm, (name, truth)
        for e in (e for e in truth if e["type"] == "window_switch"):
            jump = changed_part(e["start_s"] + 0.5, e["start_s"] - 1.0)
            assert jump > max(0.02, 3 * max(calm)), (
                f"{name} {e}: {jump:.1%} of pixels changed vs 1 s before (live page: up to {max(calm):.1%})")
            checked += 1
    assert checked >= 3


# --- keystrokes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_logs(tmp_path_factory: pytest.TempPathFactory):
    samples = keys_gen.generate(tmp_path_factory.mktemp("keystrokes-truth"), seed=0)
    out = []
    for s in samples:
        doc = json.loads(s.recordings[0].read_text(encoding="utf-8"))
        assert doc["format"] == "keystrokes/1" and doc["time_unit"] == "ms"
        out.append((s, [(e["t"] / 1000.0, e) for e in doc["events"]]))
    return out


# the handler's defaults (handlers/keystrokes/README.md): paste_min_chars 50, idle_min_s 30
PASTE_MIN_CHARS, IDLE_MIN_S = 50, 30.0


def test_keystrokes_idle_intervals_hold_no_event(key_logs):
    checked = 0
    for s, events in key_logs:
        for e in (e for e in s.truth if e["type"] == "idle"):
            within = [ev for t, ev in events if e["start_s"] < t < e["end_s"]]
            assert not within, f"{s.name} {e}: {len(within)} events inside, first {within[:3]}"
            assert e["end_s"] - e["start_s"] >= IDLE_MIN_S, (s.name, e)
            # bounded by real events at both ends (from the last event to the next)
            times = {round(t, 3) for t, _ in events}
            assert round(e["start_s"], 3) in times and round(e["end_s"], 3) in times, (s.name, e)
            checked += 1
        # and no other gap reaches the idle threshold
        gaps = [(a, b) for (a, _), (b, _) in zip(events, events[1:]) if b - a >= IDLE_MIN_S]
        idle = {(e["start_s"], e["end_s"]) for e in s.truth if e["type"] == "idle"}
        assert all((round(a, 3), round(b, 3)) in idle for a, b in gaps), (s.name, gaps, idle)
    assert checked >= 6


def test_keystrokes_paste_bursts_hold_enough_pasted_chars(key_logs):
    checked = 0
    for s, events in key_logs:
        pastes = [(t, ev["chars"]) for t, ev in events if ev["type"] == "paste"]
        bursts = [e for e in s.truth if e["type"] == "paste_burst"]
        for e in bursts:
            chars = sum(c for t, c in pastes if e["start_s"] - 1e-3 <= t <= e["end_s"] + 1e-3)
            assert chars >= PASTE_MIN_CHARS, f"{s.name} {e}: only {chars} pasted chars inside"
            checked += 1
        # a paste outside every burst is a small, harmless one
        for t, c in pastes:
            if not any(e["start_s"] - 1e-3 <= t <= e["end_s"] + 1e-3 for e in bursts):
                assert c < PASTE_MIN_CHARS, f"{s.name}: a {c}-char paste at {t:.3f} s has no paste_burst truth"
    assert checked >= 6
