"""The analysis of one decoded recording: every check, in the order their inputs appear.

levels -> dead microphone -> VAD -> speech events -> speakers (embeddings on speech only)
-> voice identity, several speakers, dialogue -> background noise on what is left.
:func:`analyse` returns the violations and the facts that go into ``result["media"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handlers.audio import dialogue, noise, silence, speakers, vad, voices
from handlers.audio.decode import Stream
from handlers.audio.frames import FRAME_S, merge, to_frames
from handlers.audio.options import Options

__all__ = ["analyse", "diarization", "enrolment_embedding"]

_SPEAKER_CHECKS = ("multiple_speakers", "voice_mismatch", "conversation_hints")
_SPEECH_PAD_S = 0.2  # kept out of the noise check around speech


def analyse(source: Stream | np.ndarray, opts: Options, reference: np.ndarray | None,
            session: np.ndarray | None = None, foreign: list[np.ndarray] | None = None,
            ) -> tuple[np.ndarray, list[dict], dict[str, Any]]:
    """The samples, violations and facts of ``source`` (16 kHz mono, decoding or decoded).

    ``reference`` is the enrolment voice; ``session`` and ``foreign`` a live session's voice as
    first heard and the voices judged foreign before (``live.py``). Raises
    :class:`~handlers.audio.decode.Unreadable`.
    """
    levels, probs = vad.scan(source, opts.vad_gate_db)
    audio = source.result() if isinstance(source, Stream) else source
    dead = silence.dead_mask(levels, opts.mic_dead_db)
    segments = vad.speech_segments(probs, opts.speech_threshold)
    stretches = merge(segments, opts.speech_merge_gap_s, opts.speech_min_s)
    events = [_speech_event(s, e, probs) for s, e in stretches] if opts.enabled("speech") else []
    facts: dict[str, Any] = {"speech_s": round(float(sum(e - s for s, e in segments)), 2)}
    quiet = _quiet(levels, segments, dead)
    facts["noise_floor_dbfs"] = round(float(np.median(levels[quiet])), 1) if quiet.any() else None
    if segments and any(opts.enabled(c) for c in _SPEAKER_CHECKS):
        d = diarization(audio, levels, probs, segments, opts)
        events += _speaker_events(d, opts, reference, facts, session, foreign or [])
    if opts.enabled("background_noise"):
        events += noise.noise_events(audio, levels, quiet, opts.noise_db, opts.noise_min_s, opts.noise_merge_gap_s,
                                    probs)
    if opts.enabled("mic_muted_or_dead"):
        events += silence.mic_dead_events(audio, levels, opts.mic_dead_db, opts.mic_dead_min_s)
        facts.update(silence.quiet_facts(audio, levels, opts.mic_dead_db, opts.mic_dead_min_s))
    return audio, events, facts


def _quiet(levels: np.ndarray, segments: list[tuple[float, float]], dead: np.ndarray) -> np.ndarray:
    """Frames that are neither speech (padded by 0.2 s) nor a dead microphone."""
    speech = to_frames([(max(0.0, s - _SPEECH_PAD_S), e + _SPEECH_PAD_S) for s, e in segments], len(levels))
    return ~speech & ~dead


def diarization(audio: np.ndarray, levels: np.ndarray, probs: np.ndarray, segments: list[tuple[float, float]],
                opts: Options) -> speakers.Diarization:
    """Voices and turns, embedding only clear speech: VAD-confident frames ``speaker_clear_snr_db``
    above the noise floor (median level of the frames without speech)."""
    quiet = _quiet(levels, segments, silence.dead_mask(levels, opts.mic_dead_db))
    floor = float(np.median(levels[quiet])) if quiet.any() else -90.0
    clear = (probs >= opts.speech_threshold) & (levels >= floor + opts.speaker_clear_snr_db)
    return speakers.diarize(audio, segments, opts.embed_hop_s, opts.speaker_similarity, opts.speaker_min_s,
                            opts.speaker_merge_similarity, clear)


def enrolment_embedding(audio: np.ndarray, opts: Options) -> np.ndarray | None:
    """The voice of an enrolment clip, or None when it holds no speech."""
    _, probs = vad.scan(audio, opts.vad_gate_db)
    segments = vad.speech_segments(probs, opts.speech_threshold)
    return speakers.reference_embedding(audio, segments, opts.embed_hop_s)


def _speech_event(start_s: float, end_s: float, probs: np.ndarray) -> dict[str, Any]:
    """Confidence: the stretch's 90th-percentile speech probability (pauses inside pull the mean down)."""
    inside = probs[int(start_s / FRAME_S) : max(int(start_s / FRAME_S) + 1, int(end_s / FRAME_S))]
    confidence = float(np.percentile(inside, 90)) if len(inside) else 0.5
    return {"type": "speech", "start_s": round(start_s, 3), "end_s": round(end_s, 3),
            "confidence": round(min(0.99, max(0.5, confidence)), 3),
            "details": {"duration_s": round(end_s - start_s, 2)}}


def _speaker_events(d: speakers.Diarization, opts: Options, reference, facts, session=None,
                    foreign=()) -> list[dict]:
    facts.update(speakers=len(d.centroids), embeddings=d.windows,
                 speaker_speech_s=[round(s, 1) for s in d.seconds])
    if len(d.centroids):
        facts["_first_voice"] = d.centroids[0]  # the dominant voice: a live session carries it
    events: list[dict] = []
    if opts.enabled("multiple_speakers"):
        events += voices.multiple_speaker_events(d, opts.speaker_episode_gap_s, opts.speaker_merge_similarity)
    if opts.enabled("voice_mismatch"):
        identity = voices.identify(d, reference, opts.voice_match_threshold, opts.voice_reject_threshold,
                                   opts.voice_margin, opts.voice_foreign_below, opts.voice_dominant_ratio, session)
        identity = voices.recall_foreign(identity, d, list(foreign), opts.speaker_similarity,
                                         reference if reference is not None else session)
        facts["_foreign_voices"] = [d.centroids[k] for k in sorted(identity.foreign)]  # a live session carries them
        events += voices.voice_mismatch_events(d, identity, reference is not None,
                                               opts.speech_merge_gap_s, opts.speech_min_s)
        facts["voice_similarity"] = [round(s, 3) for s in identity.similarity]
        facts["voice_identity"] = identity.facts()
    if opts.enabled("conversation_hints"):
        events += dialogue.dialogue_events(d.turns, opts.dialogue_max_gap_s, opts.dialogue_min_changes)
    return events
