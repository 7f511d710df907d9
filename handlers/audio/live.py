"""The audio handler in a live session: what one segment hands to the next.

Without an enrolment clip, one pass over a recording takes its dominant voice as the
candidate's. A segment of a live session cannot know the whole session, so the carry holds
``voice``: the candidate's voice (256 numbers) as first heard, and later segments judge every
voice against it as against an enrolment clip (``media.reference_voice.source`` says so). A
segment where only a stranger speaks is then a ``voice_mismatch``, as it is in one pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["carried_voice", "carry_out"]


def carried_voice(segment: dict[str, Any] | None) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The session's voice from the carry, and the facts that say where it came from."""
    state = (segment or {}).get("carry") or {}
    voice = state.get("voice")
    if not isinstance(voice, list) or len(voice) != 256:
        return None, {}
    return np.asarray(voice, dtype=np.float32), {"used": True, "source": "the session's voice, "
                                                  f"first heard in segment {state.get('from_index')}"}


def carry_out(segment: dict[str, Any], voice: np.ndarray | None, first_voice: Any) -> dict[str, Any]:
    """The carry after this segment: the session's voice, once heard."""
    state = segment.get("carry") or {}
    if isinstance(state.get("voice"), list):
        return state
    if first_voice is None or voice is not None:
        return {}
    return {"voice": [round(float(x), 5) for x in first_voice], "from_index": segment["index"]}
