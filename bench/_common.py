"""What bench/quality.py and bench/speed.py share: paths, module overlays, output helpers.

Importing this module puts the repository root on ``sys.path`` (the scripts run as
``python bench/<script>.py``). ``--modules-path ROOT`` names a folder laid out like the
repository: its ``ml_service/samples/<m>.py``, ``handlers/<m>/`` and ``bench/speed_<m>.py``
join the real ones (the harness's tests use this for a fake modality).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT / "bench-data"

__all__ = ["DEFAULT_DATA", "ROOT", "add_overlays", "decode_every_frame", "handler_on", "emit", "fmt", "opencv_capture",
           "speed_module_files", "table"]


def add_overlays(roots: Iterable[Path]) -> None:
    """Make each ROOT's sample modules and handlers importable alongside the real ones."""
    import handlers

    from ml_service import samples

    for root in map(Path, roots):
        samples.add_search_path(root / "ml_service" / "samples")
        text = str((root / "handlers").absolute())
        if text not in handlers.__path__:
            handlers.__path__.append(text)


def speed_module_files(roots: Iterable[Path] = ()) -> dict[str, Path]:
    """``{modality: path}`` of every ``bench/speed_<modality>.py``, overlays last (they win)."""
    found: dict[str, Path] = {}
    for folder in [ROOT / "bench", *(Path(r) / "bench" for r in roots)]:
        for path in sorted(folder.glob("speed_*.py")):
            found[path.stem.removeprefix("speed_")] = path.absolute()
    return found


def emit(record: dict[str, Any], out: TextIO) -> None:
    """One JSON line, keys in insertion order, floats rounded to 6 places."""
    clean = {k: round(v, 6) if isinstance(v, float) and math.isfinite(v) else v for k, v in record.items()}
    print(json.dumps(clean), file=out, flush=True)


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: ``-`` for None, fixed digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """A plain left-aligned text table."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    for line in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip(), file=out)


def opencv_capture(path: Path, threads: int = 1):
    """An OpenCV (FFmpeg backend) reader of ``path`` with ``threads`` decoding threads."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
    if not cap.isOpened():
        raise RuntimeError(f"OpenCV cannot open {path}")
    return cap


def decode_every_frame(path: Path) -> dict[str, Any]:
    """The video speed modules' ``decode_only``: every frame, one thread, nothing else."""
    cap = opencv_capture(path)
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    return {"frames": frames}


def handler_on(modality: str, path: Path) -> dict[str, Any]:
    """The speed modules' ``pipeline``: ``handlers.<m>.<m>.process`` on one recording, with the
    worker's input; its result."""
    import importlib

    from ml_service.samples.truth import recording_input

    process = importlib.import_module(f"handlers.{modality}.{modality}").process
    result, _ = process(recording_input(modality, path))
    return result
