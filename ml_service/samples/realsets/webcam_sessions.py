"""Longer clean sessions and more event clips for the webcam real set (second round of issue 19).

Sources (``webcam.manifest.json``): StyleTalk's sample videos (public talks and interviews),
LIA's VoxCeleb driving clips, MEAD clips from SPECTRE and EAMM, GRID corpus sentences (LipNet's
evaluation samples, 11 speakers, and the first 475 of the 1,000 sentences of speaker s1 as
committed in TVR28/LipNet), and V-Express's short cases. A *session* is one person's clips played
one after the other (cuts between takes of the same person, no one else): GRID s1's 3 s
sentences make five sessions of about 4.75 minutes, the way a webcam exam is one person for a
long time.
"""

from __future__ import annotations

__all__ = ["EVENTS", "SESSIONS", "grid_s1_ids"]

_LOW = (320, 240)
_SD = (640, 480)
_GRID_S1_PER_SESSION = 95

Piece = tuple[str, float, float, str]


def grid_s1_ids(ids: list[str]) -> list[str]:
    """The GRID s1 sentence ids of the manifest, in order."""
    return sorted(i for i in ids if i.startswith("grid-s1-"))


def _whole(*ids: str) -> list[Piece]:
    return [(i, 0.0, 0.0, "") for i in ids]


def _grid_sessions(ids: list[str]) -> dict[str, tuple[tuple[int, int], list[Piece]]]:
    s1 = grid_s1_ids(ids)
    chunks = [s1[i:i + _GRID_S1_PER_SESSION] for i in range(0, len(s1), _GRID_S1_PER_SESSION)]
    return {f"grid-s1-session{k + 1}" + ("-lowres" if k % 2 else ""): (_LOW if k % 2 else _SD, _whole(*chunk))
            for k, chunk in enumerate(chunks)}


def SESSIONS(ids: list[str]) -> dict[str, tuple[tuple[int, int], list[Piece]]]:  # noqa: N802 (a table)
    """Clean sessions by name: (size, pieces)."""
    table: dict[str, tuple[tuple[int, int], list[Piece]]] = {
        "st-obama": (_SD, _whole("st-Obama_clip1", "st-Obama_clip2", "st-Obama_clip3", "lia-obama")),
        "st-andrew": (_SD, _whole("st-andrew_clip_1", "st-andrew_clip_2")),
        "st-feifei-lowres": (_LOW, _whole("st-feifeili_clip1", "st-feifeili_clip2_short", "st-feifeili_clip3")),
        "st-noem": (_SD, _whole("st-KristiNoem")),
        "st-reagan-lowres": (_LOW, _whole("st-reagan_clip1")),
        "st-english": (_SD, _whole("st-happyenglish_clip1", "st-happyenglish_clip2")),
        "st-rosen": (_SD, _whole("st-nice_clip1")),
        "st-trump-lowres": (_LOW, _whole("st-trump_clip1")),
        "vox-1": (_SD, _whole("vox-1")),
        "vox-2": (_SD, _whole("vox-2")),
        "vox-3-lowres": (_LOW, _whole("vox-3")),
        "vx-10": (_SD, _whole("vx-10")),
        "vx-tys": (_SD, _whole("vx-tys")),
        "vx-radio10": (_SD, _whole("vx-radio10")),
    }
    for who in ("M003", "M026", "W036", "W040"):
        table[f"mead-far-{who}"] = (_SD, _whole(f"spectre-{who}"))
    for mood in ("contempt", "disgusted", "happy", "sad"):
        table[f"eamm-{mood}"] = (_SD, _whole(f"eamm-{mood}"))
    for k, name in enumerate(("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a",
                              "sbwe5n", "swiz3n", "id2")):
        table[f"grid-{name}" + ("-lowres" if k % 3 == 2 else "")] = (_LOW if k % 3 == 2 else _SD,
                                                                     _whole(f"grid-sample-{name}"))
    return {**table, **_grid_sessions(ids)}


def EVENTS(ids: list[str]) -> list[tuple]:  # noqa: N802 (a table)
    """Event clips made by editing the footage above (recipes as in webcam.py's ``_event_recipes``)."""
    s1 = grid_s1_ids(ids)
    return [
        # someone else sits down (a cut to another GRID speaker in the same booth): 6 x 3 s, then 4 x 3 s
        ("grid-replaced", _SD, _whole(*s1[-10:-4], "grid-sample-lwbsza", "grid-sample-sbia1a", "grid-sample-pwij3p",
                                      "grid-sample-lbbc2a"), [],
         [{"type": "identity_change", "start_s": 18.0, "end_s": 30.0}], None),
        # a second real person (a GRID speaker) blended in, 60 px wide, behind a lecturer
        ("second-person-andrew", _SD, _whole("st-andrew_clip_1"),
         [("overlay", "grid-sample-brbk7n", 6.0, 9.0, 60, (0.85, 0.3))],
         [{"type": "multiple_faces", "start_s": 6.0, "end_s": 9.0}], None),
        # a hand over the lens of a VoxCeleb interview
        ("covered-vox", _SD, _whole("vox-1"), [("cover", 20.0, 26.0)],
         [{"type": "camera_blocked_or_dark", "start_s": 20.0, "end_s": 26.0}], None),
    ]
