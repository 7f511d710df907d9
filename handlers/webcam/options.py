"""Per-exam thresholds of the webcam analyser: names, defaults and parsing.

Every field can be overridden by ``submission["options"]`` under the same name. Unknown keys
are ignored (other modalities share the options object); a value of the wrong type is a
:class:`~ml_service.handler_api.SubmissionError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ml_service.handler_api import SubmissionError

__all__ = ["Options"]


@dataclass(frozen=True)
class Options:
    """Thresholds and sampling rates; the README's table documents each one."""

    # sampling
    scout_interval_s: float = 2.0        # the face model runs on one frame per interval ...
    dense_fps: float = 5.0               # ... and at this rate around changes
    small_face_scan_s: float = 3.0       # full-range detector (tiles) period while the room changes ...
    small_face_idle_scan_s: float = 30.0  # ... and while it does not
    identity_every_s: float = 60.0       # identity embedding period within one face track
    # presence
    face_absent_min_s: float = 3.0
    multiple_faces_min_s: float = 2.0
    small_face_min_score: float = 0.6
    # identity
    identity_max_distance: float = 0.6   # dlib 128-d distance: same person below
    # head pose and gaze (degrees / blendshape units, relative to the session's median pose)
    head_yaw_deg: float = 25.0
    head_pitch_down_deg: float = 18.0
    head_pitch_up_deg: float = 18.0
    head_turned_min_s: float = 2.0
    gaze_threshold: float = 0.2
    gaze_away_min_s: float = 2.0
    gaze_down_min_s: float = 5.0         # eyes down (keyboard, screen below the camera) count only this long
    # mouth
    talking_window_s: float = 1.6
    talking_mouth_std: float = 0.008     # std of the inner-lip gap / face height over the window ...
    talking_mouth_rel: float = 0.2       # ... and this share of the window's mean gap (lips that open and close)
    talking_min_s: float = 2.0
    # expressions
    smile_delta: float = 0.45
    surprise_score: float = 0.5
    expression_min_s: float = 3.0
    # camera
    dark_luma: float = 30.0              # mean luma (0-255) below this is dark
    uniform_luma_std: float = 8.0        # luma std below this is a covered / uniform view
    camera_dark_min_s: float = 2.0
    # intervals
    merge_gap_s: float = 1.5             # two events of one type closer than this merge
    # objects (objects.py): phones, books, second screens, people whose face is not seen
    object_scan_s: float = 8.0           # detector period while nothing changes ...
    object_change_scan_s: float = 4.0    # ... at a changed scout sample, at most this often
    object_min_hits: float = 2.0         # detector scans within one interval that must see the object
    object_min_s: float = 1.5            # shortest reported object interval
    object_min_area: float = 0.01        # book / screen box, share of the frame
    phone_min_score: float = 0.5
    book_min_score: float = 0.3
    screen_min_score: float = 0.4
    person_min_score: float = 0.6
    person_min_height: float = 0.25      # person box height, share of the frame height

    @classmethod
    def from_submission(cls, options: Mapping[str, Any] | None) -> "Options":
        """Defaults overridden by the submission's numeric options of the same name."""
        values: dict[str, float] = {}
        for f in fields(cls):
            if options and f.name in options:
                raw = options[f.name]
                if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
                    raise SubmissionError(f"option {f.name} must be a non-negative number, got {raw!r}")
                values[f.name] = float(raw)
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        """Every threshold in force, for the result's ``media.options``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
