"""Hints in conversation: turn-taking between voices, the shape of a dialogue.

Turns are chained while the pause between them is at most ``max_gap_s``; in a chain, runs of
one voice count as one turn. A chain in which the voice changes at least ``min_changes``
times (A-B-A by default: a question, an answer, a reaction) is one ``conversation_hints``
event. One change (A speaks, then B) is ``multiple_speakers`` only.

Keyword spotting is not done: see README.md ("Keyword spotting") for what was measured.
"""

from __future__ import annotations

from handlers.audio.speakers import Turn

__all__ = ["dialogue_events"]


def _chains(turns: list[Turn], max_gap_s: float) -> list[list[Turn]]:
    chains: list[list[Turn]] = []
    for turn in sorted(turns, key=lambda t: t.start_s):
        if chains and turn.start_s - chains[-1][-1].end_s <= max_gap_s:
            chains[-1].append(turn)
        else:
            chains.append([turn])
    return chains


def dialogue_events(turns: list[Turn], max_gap_s: float, min_changes: int) -> list[dict]:
    events = []
    for chain in _chains(turns, max_gap_s):
        voices = [t.speaker for t in chain]
        changes = sum(1 for a, b in zip(voices, voices[1:]) if a != b)
        if changes < min_changes:
            continue
        gaps = [b.start_s - a.end_s for a, b in zip(chain, chain[1:]) if a.speaker != b.speaker]
        events.append({
            "type": "conversation_hints",
            "start_s": round(chain[0].start_s, 3),
            "end_s": round(chain[-1].end_s, 3),
            "confidence": round(min(0.99, 0.6 + 0.1 * changes), 3),
            "details": {"cue": "dialogue", "turns": changes + 1, "speakers": len(set(voices)),
                        "median_gap_s": round(sorted(gaps)[len(gaps) // 2], 2)},
        })
    return events
