"""handlers.webcam.analyse.mouth_moves: the cheap talking trigger between scout samples,
on frames of generated clips (real face photos; the mouth warped for speech)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.webcam.analyse import mouth_moves
from handlers.webcam.decode import frames, video_info
from handlers.webcam.faces import Landmarker
from ml_service.samples import webcam as clips


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # calm 0-6 s, talking 6-12 s, head turned 14-18 s
    events = [("talk", 6, 12), ("yaw", 14, 18, 40)]
    return clips.make_clip(tmp_path_factory.mktemp("mouth") / "m.mp4", 20, events, who="astronaut", seed=3)[0]


def _blocks(clip: Path) -> dict[float, bool]:
    """Every 2 s block of ~5 fps frames -> mouth_moves, with the face of the block's first frame."""
    info, model = video_info(clip), Landmarker(1, video=False)
    try:
        found, block = {}, []
        for frame in frames(clip, info, 5.0):
            block.append(frame)
            if frame.t + 1e-6 >= 2.0 * (len(found) + 1):
                faces = model.detect(block[0].rgb())
                assert faces, f"no face at {block[0].t:.1f} s"
                found[round(block[0].t)] = mouth_moves([f.luma for f in block], faces[0])
                block = []
        return found
    finally:
        model.close()


def test_speech_moves_the_mouth_region_and_calm_or_a_head_turn_does_not(clip):
    moved = _blocks(clip)
    assert [moved[t] for t in (0, 2, 4)] == [False, False, False], moved
    assert [moved[t] for t in (6, 8, 10)] == [True, True, True], moved
    assert moved[14] is False and moved[16] is False, moved


def test_too_few_frames_or_a_face_box_off_the_frame_is_no_motion(clip):
    info = video_info(clip)
    lumas = [f.luma for f in frames(clip, info, 5.0, start_s=6.0, end_s=8.0)]
    model = Landmarker(1, video=False)
    try:
        face = model.detect(next(frames(clip, info, 5.0, start_s=6.0)).rgb())[0]
    finally:
        model.close()
    assert mouth_moves(lumas, face) is True
    assert mouth_moves(lumas[:2], face) is False
    off = type(face)(**{**{k: getattr(face, k) for k in face.__slots__}, "box": (900.0, 900.0, 1000.0, 1000.0)})
    assert mouth_moves(lumas, off) is False
