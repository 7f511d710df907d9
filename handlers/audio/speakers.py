"""Who speaks when: speaker embeddings on speech only, clustered into voices and turns.

Only speech is embedded: each VAD speech stretch is raised to -30 dBFS (as resemblyzer does)
and cut into 1.6 s windows every ``hop_s``. Windows are clustered by average linkage on
cosine similarity, which for unit vectors is exact and cheap: the mean similarity between two
clusters is the dot product of their mean vectors. Consecutive windows of one stretch that
already agree (>= 0.85) start as one node, so an hour of speech stays a few hundred nodes.

A voice needs ``min_speaker_s`` of speech to count; smaller clusters (a cough, a few noisy
windows), smallest first, join their nearest cluster. Voices are numbered by speech time, 0 = dominant.
A turn is a run of one voice inside a stretch; its edges fall halfway between windows, and
turns are widened over the unclear (not embedded) speech of their stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handlers.audio import embedding
from handlers.audio.decode import SAMPLE_RATE
from handlers.audio.frames import merge

__all__ = ["Diarization", "Turn", "cluster", "diarize", "from_windows", "reference_embedding"]

_PREMERGE = 0.85
_MIN_STRETCH_S = 0.5


@dataclass(frozen=True)
class Turn:
    speaker: int
    start_s: float
    end_s: float


@dataclass
class Diarization:
    turns: list[Turn]
    centroids: np.ndarray  # (voices, 256), unit vectors
    seconds: list[float]  # speech seconds per voice
    windows: int  # embeddings computed


def diarize(audio: np.ndarray, segments: list[tuple[float, float]], hop_s: float, threshold: float,
            min_speaker_s: float, merge_similarity: float = 1.0, clear: np.ndarray | None = None) -> Diarization:
    """Voices and turns of the speech ``segments`` of ``audio``.

    ``clear`` (a 32 ms frame mask) marks clear speech: windows less than half clear are not
    embedded. Voices whose centroids are at least ``merge_similarity`` alike are one voice.
    """
    stretches = merge(segments, 0.5, _MIN_STRETCH_S)
    mels, owner, spans = _windows(audio, stretches, hop_s)
    if clear is not None and len(mels):
        keep = np.array([_clear_share(clear, a, b) >= 0.5 for a, b in spans])
        mels, owner, spans = mels[keep], owner[keep], [s for s, k in zip(spans, keep) if k]
    vectors = embedding.embed(mels) if len(mels) else np.zeros((0, 256), np.float32)
    d = from_windows(vectors, owner, spans, threshold, min_speaker_s, merge_similarity)
    d.turns = fill_stretches(d.turns, stretches)
    return d


def from_windows(vectors: np.ndarray, owner: np.ndarray, spans: list[tuple[float, float]], threshold: float,
                 min_speaker_s: float, merge_similarity: float = 1.0) -> Diarization:
    """Voices and turns from embedded windows (``owner``: each window's stretch; ``spans``: its time)."""
    if not len(vectors):
        return Diarization([], np.zeros((0, 256), np.float32), [], 0)
    labels = cluster(vectors, owner, threshold)
    seconds = np.array([e - s for s, e in spans])
    labels = _absorb_small(vectors, labels, seconds, min_speaker_s)
    labels = _merge_alike(vectors, labels, seconds, merge_similarity)
    centroids = np.stack([_unit(vectors[labels == k].mean(axis=0)) for k in range(labels.max() + 1)])
    per_voice = [float(seconds[labels == k].sum()) for k in range(len(centroids))]
    return Diarization(_turns(labels, owner, spans), centroids, per_voice, len(vectors))


def reference_embedding(audio: np.ndarray, segments: list[tuple[float, float]], hop_s: float) -> np.ndarray | None:
    """The enrolment clip's voice: mean of its speech windows, or None without speech."""
    stretches = merge(segments, 0.5, _MIN_STRETCH_S)
    mels, _, _ = _windows(audio, stretches, hop_s)
    if not len(mels):
        return None
    return _unit(embedding.embed(mels).mean(axis=0))


def _clear_share(clear: np.ndarray, start_s: float, end_s: float) -> float:
    piece = clear[int(start_s / 0.032) : max(int(start_s / 0.032) + 1, int(end_s / 0.032))]
    return float(piece.mean()) if len(piece) else 0.0


def _merge_alike(vectors: np.ndarray, labels: np.ndarray, seconds: np.ndarray, similarity: float) -> np.ndarray:
    """Join voices whose centroids are at least ``similarity`` alike (one person, two conditions)."""
    while labels.max() > 0:
        centroids = np.stack([_unit(vectors[labels == k].mean(axis=0)) for k in range(labels.max() + 1)])
        sim = centroids @ centroids.T
        np.fill_diagonal(sim, -np.inf)
        i, j = divmod(int(np.argmax(sim)), len(centroids))
        if sim[i, j] < similarity:
            break
        keep, drop = sorted((i, j))
        labels = np.where(labels == drop, keep, labels)
        labels = np.where(labels > drop, labels - 1, labels)
    totals = [float(seconds[labels == k].sum()) for k in range(labels.max() + 1)]
    rank = {k: r for r, k in enumerate(sorted(range(len(totals)), key=lambda k: -totals[k]))}
    return np.array([rank[k] for k in labels])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _windows(audio, stretches, hop_s):
    """Mel windows of every stretch, each window's stretch index and the time it stands for."""
    hop_frames = max(1, int(round(hop_s * 100)))
    mels, owner, spans = [], [], []
    for index, (start_s, end_s) in enumerate(stretches):
        wav = embedding.normalize_volume(audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)])
        windows, starts = embedding.window_mels(wav, hop_frames)
        centres = [start_s + (s + embedding.WINDOW_FRAMES / 2) / 100 for s in starts]
        edges = [start_s] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [end_s]
        mels.append(windows)
        owner += [index] * len(starts)
        spans += list(zip(edges, edges[1:]))
    if not mels:
        return np.zeros((0, embedding.WINDOW_FRAMES, 40), np.float32), np.zeros(0, int), []
    return np.concatenate(mels), np.array(owner), spans


def cluster(vectors: np.ndarray, owner: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage labels (0..k-1) of unit ``vectors``; merging stops below ``threshold``."""
    sums, counts, members = _premerge(vectors, owner)
    sim = (sums @ sums.T) / np.outer(counts, counts)
    np.fill_diagonal(sim, -np.inf)
    alive = np.ones(len(counts), dtype=bool)
    while alive.sum() > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, len(counts))
        if sim[i, j] < threshold:
            break
        merged = (counts[i] * sim[i] + counts[j] * sim[j]) / (counts[i] + counts[j])
        counts[i] += counts[j]
        members[i] += members[j]
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sim[j], sim[:, j] = -np.inf, -np.inf
        alive[j] = False
    labels = np.empty(len(vectors), dtype=int)
    for label, node in enumerate(np.flatnonzero(alive)):
        labels[members[node]] = label
    return labels


def _premerge(vectors, owner):
    """Nodes of consecutive windows of one stretch that agree with their node's mean."""
    sums, counts, members = [], [], []
    for i, v in enumerate(vectors):
        if members and owner[members[-1][-1]] == owner[i] and float(_unit(sums[-1]) @ v) >= _PREMERGE:
            sums[-1] = sums[-1] + v
            counts[-1] += 1
            members[-1].append(i)
        else:
            sums.append(v.astype(np.float64))
            counts.append(1)
            members.append([i])
    return np.array(sums), np.array(counts, dtype=np.float64), members


def _absorb_small(vectors, labels, seconds, min_speaker_s):
    """Clusters under ``min_speaker_s``, smallest first, join their nearest cluster of any size.

    Two small pieces of one real voice (a second person split by the room) can so add up to a
    speaker, where giving each to the nearest big voice would lose it. Renumbered by speech time.
    """
    labels = labels.copy()
    while len(kinds := np.unique(labels)) > 1:
        totals = {k: float(seconds[labels == k].sum()) for k in kinds}
        small = min(kinds, key=totals.get)
        if totals[small] >= min_speaker_s:
            break
        means = {k: _unit(vectors[labels == k].mean(axis=0)) for k in kinds}
        labels[labels == small] = max((k for k in kinds if k != small), key=lambda k: float(means[small] @ means[k]))
    order = sorted(np.unique(labels), key=lambda k: -float(seconds[labels == k].sum()))
    rank = {k: r for r, k in enumerate(order)}
    return np.array([rank[k] for k in labels])


def fill_stretches(turns: list[Turn], stretches: list[tuple[float, float]]) -> list[Turn]:
    """Turns widened to cover the speech stretch they sit in.

    Windows left out as unclear leave holes: a hole between two turns of one voice is that
    voice's, between two voices it is split halfway; a stretch's ends go to its first and last
    turn. A stretch without any embedded window stays without a speaker.
    """
    out: list[Turn] = []
    for a, b in stretches:
        inside = [t for t in turns if a - 1e-6 <= t.start_s < b + 1e-6]
        if not inside:
            continue
        filled = [Turn(inside[0].speaker, a, inside[0].end_s)]
        for t in inside[1:]:
            last = filled[-1]
            if t.speaker == last.speaker:
                filled[-1] = Turn(last.speaker, last.start_s, t.end_s)
                continue
            cut = max((last.end_s + t.start_s) / 2, last.start_s)
            filled[-1] = Turn(last.speaker, last.start_s, cut)
            filled.append(Turn(t.speaker, cut, t.end_s))
        filled[-1] = Turn(filled[-1].speaker, filled[-1].start_s, b)
        out += filled
    return out


def _turns(labels, owner, spans) -> list[Turn]:
    turns: list[Turn] = []
    for i, (label, (start, end)) in enumerate(zip(labels, spans)):
        same = turns and i and owner[i] == owner[i - 1] and turns[-1].speaker == label
        if same:
            turns[-1] = Turn(int(label), turns[-1].start_s, end)
        else:
            turns.append(Turn(int(label), start, end))
    return turns
