"""A long recording cut into segments analysed side by side, one process per core.

One pass (analyse.py) keeps about one core busy: the landmarker's calls follow each other on
its main thread, and the helper threads and ffmpeg only fill gaps. A recording of at least
``2 * MIN_SEGMENT_S`` is therefore cut into as many time segments as there are usable cores
(``ML_WEBCAM_PROCESSES`` overrides; ``ML_WEBCAM_MIN_SEGMENT_S`` sets the shortest segment). This process analyses the first; spawned processes
(``spawn``: MediaPipe's threads make ``fork`` unsafe) analyse the others, each with its own
ffmpeg seeking to its start.

Segment ``k > 0`` starts ``LEAD_SCOUTS`` scout intervals before its cut, so its scout state
(previous sample, recent mouth openings) is warm when it reaches the cut. The parts are
joined at the cut: the earlier segment's samples up to its last scout sample, the later
one's after it; frame brightness on either side of the cut; so the frames around a cut are
densified as in one pass. Per-person baselines (checks.py) are computed on the joined
samples, as for one pass.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from multiprocessing.connection import Connection
from pathlib import Path

from handlers.webcam.analyse import Observations, analyse_span
from handlers.webcam.decode import MediaUnreadable, VideoInfo
from handlers.webcam.options import Options
from ml_service.handler_api import die_with_parent

__all__ = ["MIN_SEGMENT_S", "analyse", "join", "min_segment_s", "plan", "processes"]

logger = logging.getLogger(__name__)

MIN_SEGMENT_S = 150.0  # shorter segments do not repay a process start (~2 s of imports)
LEAD_SCOUTS = 2
ENV = "ML_WEBCAM_PROCESSES"
MIN_ENV = "ML_WEBCAM_MIN_SEGMENT_S"


def _env_number(name: str, kind: type, default: float | None = None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {raw!r}")
    return value


def min_segment_s() -> float:
    """``ML_WEBCAM_MIN_SEGMENT_S``, else :data:`MIN_SEGMENT_S`."""
    return float(_env_number(MIN_ENV, float, MIN_SEGMENT_S))


def processes() -> int:
    """``ML_WEBCAM_PROCESSES``, else the cores this process may run on."""
    value = _env_number(ENV, int)
    if value is not None:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def plan(duration_s: float | None, workers: int, min_segment_s: float = MIN_SEGMENT_S) -> list[tuple[float, float | None]]:
    """Segments ``(start, end)`` of equal length; the last one ends with the file (None)."""
    if not duration_s or workers < 2:
        return [(0.0, None)]
    n = max(1, min(workers, int(duration_s // min_segment_s)))
    cuts = [round(duration_s * k / n, 3) for k in range(n + 1)]
    return [(cuts[k], cuts[k + 1] if k + 1 < n else None) for k in range(n)]


def analyse(path: Path, info: VideoInfo, opts: Options, workers: int | None = None,
            shortest_s: float | None = None) -> Observations:
    """Observations of the whole recording, segments in parallel (raises decode.MediaUnreadable).

    ``workers`` and ``shortest_s`` default to :func:`processes` and :func:`min_segment_s`.
    """
    segments = plan(info.duration_s, processes() if workers is None else workers,
                    min_segment_s() if shortest_s is None else shortest_s)
    if len(segments) == 1:
        return analyse_span(path, info, opts)
    lead = LEAD_SCOUTS * opts.scout_interval_s
    logger.info("webcam: %s in %d segments, one process each", path.name, len(segments))
    helpers = [_Helper(path, info, opts, max(0.0, start - lead), end) for start, end in segments[1:]]
    try:
        parts = [analyse_span(path, info, opts, *segments[0])]
        parts += [helper.result() for helper in helpers]
    finally:
        for helper in helpers:
            helper.stop()
    joined = join(parts, [start for start, _ in segments[1:]])
    joined.end_s = max(joined.end_s, info.duration_s or 0.0)
    return joined


class _Helper:
    """One later segment, analysed in a spawned process that dies with this one."""

    def __init__(self, path: Path, info: VideoInfo, opts: Options, start_s: float, end_s: float | None) -> None:
        self.start_s = start_s
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe(duplex=False)
        self._proc = context.Process(target=_helper_main, args=(child, os.getpid(), path, info, opts, start_s, end_s),
                                     name=f"webcam-segment-{start_s:.0f}s", daemon=True)
        self._proc.start()
        child.close()

    def result(self) -> Observations:
        """The segment's record; none where the decoder found no frame (the stream ends
        before its stated duration: one pass would stop there too, without an error)."""
        try:
            kind, value = self._conn.recv()
        except EOFError:
            self._proc.join(5)
            raise RuntimeError(f"webcam segment process from {self.start_s:.1f} s died "
                               f"(exit code {self._proc.exitcode})") from None
        if kind == "ok":
            return value
        if kind == "unreadable":
            logger.warning("webcam: no frame from %.1f s on (%s); the recording ends earlier than stated",
                           self.start_s, value)
            return Observations()
        raise RuntimeError(f"webcam segment from {self.start_s:.1f} s failed: {value}")

    def stop(self) -> None:
        self._conn.close()
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(5)


def _helper_main(conn: Connection, parent_pid: int, path: Path, info: VideoInfo, opts: Options,
                 start_s: float, end_s: float | None) -> None:
    die_with_parent(parent_pid)
    try:
        reply: tuple[str, object] = ("ok", analyse_span(path, info, opts, start_s, end_s))
    except MediaUnreadable as exc:
        reply = ("unreadable", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        reply = ("error", f"{type(exc).__name__}: {exc}")
    conn.send(reply)
    conn.close()


def join(parts: list[Observations], cuts: list[float]) -> Observations:
    """One record from consecutive segments' records; ``cuts[k]`` is where part ``k+1`` takes over."""
    out = Observations(segments=len(parts))
    last_t = float("-inf")  # the previous part's last sample: the next part takes over after it
    for k, part in enumerate(parts):
        cut_before = cuts[k - 1] if k else float("-inf")
        out.obs.extend(o for o in part.obs if o.t > last_t)
        out.light.extend(x for x in part.light if x[0] >= cut_before)
        out.embeddings.extend(e for e in part.embeddings if e[0] > last_t)
        out.objects.extend(o for o in part.objects if o.t > last_t)
        out.frames_received += part.frames_received
        out.scans += part.scans
        out.end_s = max(out.end_s, part.end_s)
        if out.obs:
            last_t = out.obs[-1].t
    return out

