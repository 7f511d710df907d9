"""The audio handler in a live session: what one segment hands to the next.

Without an enrolment clip, one pass over a recording takes its dominant voice as the
candidate's. A segment of a live session cannot know the whole session, so the carry holds
``voice``: the candidate's voice (256 numbers) as first heard, and later segments judge every
voice against it as against an enrolment clip (``media.reference_voice.source`` says so). A
segment where only a stranger speaks is then a ``voice_mismatch``, as it is in one pass.
:func:`join_gaps` marks the events whose check merges turns across pauses (an episode of
several speakers, a dialogue) with that pause (``details.join_gap_s``), so the worker joins
them across a cut as one pass would.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["carried_foreign", "carried_voice", "carry_out", "join_gaps"]

_KEEP_FOREIGN = 4


def carried_foreign(segment: dict[str, Any] | None) -> list[np.ndarray]:
    """The voices earlier segments judged foreign."""
    state = (segment or {}).get("carry") or {}
    return [np.asarray(v, dtype=np.float32) for v in state.get("foreign", []) if isinstance(v, list) and len(v) == 256]


def carried_voice(segment: dict[str, Any] | None) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The session's voice from the carry, and the facts that say where it came from."""
    state = (segment or {}).get("carry") or {}
    voice = state.get("voice")
    if not isinstance(voice, list) or len(voice) != 256:
        return None, {}
    return np.asarray(voice, dtype=np.float32), {"used": True, "source": "the session's voice, "
                                                  f"first heard in segment {state.get('from_index')}"}


def carry_out(segment: dict[str, Any], voice: np.ndarray | None, first_voice: Any,
              foreign: list[np.ndarray], same: float) -> dict[str, Any]:
    """The carry after this segment: the session's voice once heard (without an enrolment
    ``voice``), and the voices judged foreign so far (at most four, alike ones once)."""
    state = dict(segment.get("carry") or {})
    if not isinstance(state.get("voice"), list) and first_voice is not None and voice is None:
        state.update(voice=_rounded(first_voice), from_index=segment["index"])
    known = carried_foreign(segment)
    for centroid in foreign:
        if all(float(centroid @ k) < same for k in known):
            known.append(np.asarray(centroid, dtype=np.float32))
    if known:
        state["foreign"] = [_rounded(k) for k in known[-_KEEP_FOREIGN:]]
    return state


def _rounded(vector: Any) -> list[float]:
    return [round(float(x), 5) for x in vector]


def join_gaps(violations: list[dict[str, Any]], opts: Any) -> list[dict[str, Any]]:
    """The violations, each marked with how far apart one pass merges two of its kind."""
    gaps = {"multiple_speakers": opts.speaker_episode_gap_s, "conversation_hints": opts.dialogue_max_gap_s,
            "voice_mismatch": opts.speech_merge_gap_s, "speech": opts.speech_merge_gap_s}
    return [{**v, "details": {**(v.get("details") or {}), "join_gap_s": gaps[v["type"]]}} if v["type"] in gaps else v
            for v in violations]
