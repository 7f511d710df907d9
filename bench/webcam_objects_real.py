"""Phones on real webcam frames: a person holding a phone, a wallet and an earbud case.

    python bench/webcam_objects_real.py [--sources DIR] [--out DIR] [--hold-s 0.5]

The frames are the Roboflow Universe dataset 'detection-necem' (CC BY 4.0; classes airpods,
phone, wallet), committed in the public repository aitkherimed1228/Yolov10_project: one
person at his webcam, ~205 consecutive captures (``opencv_frame_<n>``), stretched to
640x640 by the export (here stretched back to 640x480). Read from a local git copy found as
in :mod:`ml_service.samples.realsets`; nothing is downloaded, and the bench says so when the copy is
missing (exit 1).

Two measures, printed as JSON lines:

- per frame: the detector's best ``cell phone`` score, against the frame's label (phone /
  wallet / earbud case), at the handler's ``phone_min_score`` and below, on the full frame
  and with second looks (zoomed candidates, tiles, mirrored; and as confirmations: see
  :func:`per_frame`);
- per clip: the frames in order, each held ``--hold-s``, encoded as H.264 and analysed by the
  webcam handler; ``phone_visible`` scored against the phone frames' runs
  (:mod:`ml_service.samples.evaluation`), and its alarms on the wallet and earbud-case parts counted.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml_service.samples.realsets import find_source, source_roots  # noqa: E402

REPO = "aitkherimed1228/Yolov10_project"
COMMIT = "9b895c03691c7cd70d7005fbf48403476f22458f"
CLASSES = ("earbuds", "phone", "wallet")
_FRAME = re.compile(r"opencv_frame_(\d+)_png")


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True).stdout


def frames(git_dir: Path) -> list[tuple[int, str, np.ndarray]]:
    """(capture number, label, 640x480 BGR frame), one per capture, in order."""
    names = _git(git_dir, "ls-tree", "-r", "--name-only", COMMIT, "detection-2").decode().splitlines()
    chosen: dict[int, str] = {}
    for path in sorted(n for n in names if "/images/" in n and n.endswith(".jpg")):
        n = int(_FRAME.search(path).group(1))
        if n not in chosen or "/train/" in chosen[n]:  # prefer the un-augmented valid/test copy
            chosen[n] = path
    out = []
    for n, path in sorted(chosen.items()):
        label_path = path.replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt"
        rows = _git(git_dir, "show", f"{COMMIT}:{label_path}").decode().split("\n")
        kinds = {CLASSES[int(r.split()[0])] for r in rows if r.strip()}
        label = "phone" if "phone" in kinds else "wallet" if "wallet" in kinds else "earbuds" if kinds else "none"
        img = cv2.imdecode(np.frombuffer(_git(git_dir, "show", f"{COMMIT}:{path}"), np.uint8), cv2.IMREAD_COLOR)
        out.append((n, label, cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA)))
    return out


def per_frame(items: list[tuple[int, str, np.ndarray]]) -> list[dict]:
    """Frames called ``cell phone`` per label and threshold: the full frame as the handler
    scans it, and three second looks tried to find more phones (each takes its best score
    together with the full frame's): a crop around each candidate at twice its size, six
    overlapping 400 px tiles (1.6x zoom), the mirrored frame; and two tried as confirmations
    (the lower of the full frame's best score and the look's): the crop around the best
    candidate, the mirrored frame."""
    from handlers.webcam.detector import ObjectDetector

    detector = ObjectDetector(0.1)
    looks: dict[str, list[tuple[str, float]]] = {k: [] for k in (
        "full", "candidate_zoom", "tiles", "mirrored", "zoom_confirms", "mirror_confirms")}
    for _, label, img in items:
        found = [d for d in detector.detect(img, 0.05) if d.label == "cell phone"]
        full = max((d.score for d in found), default=0.0)
        looks["full"].append((label, full))
        zooms = [_phone_score(detector, _around(img, d.box)) for d in found[:3]]
        looks["candidate_zoom"].append((label, max(full, *zooms, 0.0)))
        looks["tiles"].append((label, max(full, *(_phone_score(detector, t) for t in _tiles(img, 400)))))
        mirrored = _phone_score(detector, img[:, ::-1])
        looks["mirrored"].append((label, max(full, mirrored)))
        looks["zoom_confirms"].append((label, min(full, zooms[0] if zooms else 0.0)))
        looks["mirror_confirms"].append((label, min(full, mirrored)))
    records = []
    for look, best in looks.items():
        totals = Counter(label for label, _ in best)
        for threshold in (0.3, 0.4, 0.5, 0.6):
            counts = Counter(label for label, score in best if score >= threshold)
            records.append({"record": "per_frame", "look": look, "threshold": threshold,
                            **{f"{k}_frames": totals[k] for k in sorted(totals)},
                            **{f"{k}_called_phone": counts[k] for k in sorted(totals)}})
    return records


def _phone_score(detector, bgr: np.ndarray) -> float:
    return max((d.score for d in detector.detect(np.ascontiguousarray(bgr), 0.05) if d.label == "cell phone"),
               default=0.0)


def _around(img: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A square crop centred on ``box``, twice its longer side (at least 160 px)."""
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    side = int(min(h, max(160.0, 2 * max(x1 - x0, y1 - y0))))
    left = int(max(0, min(w - side, (x0 + x1 - side) / 2)))
    top = int(max(0, min(h - side, (y0 + y1 - side) / 2)))
    return img[top:top + side, left:left + side]


def _tiles(img: np.ndarray, side: int) -> list[np.ndarray]:
    h, w = img.shape[:2]
    return [img[y:y + side, x:x + side] for y in sorted({0, h - side}) for x in sorted({0, (w - side) // 2, w - side})]


def per_clip(items: list[tuple[int, str, np.ndarray]], out_dir: Path, hold_s: float) -> dict:
    from handlers.webcam.webcam import process
    from ml_service.samples._media import encode_frames

    fps, repeat = 15, max(1, round(15 * hold_s))
    path = out_dir / "webcam-real-phone-wallet-earbuds.mp4"
    stream = (cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for _, _, img in items for _ in range(repeat))
    encode_frames(path, stream, (640, 480), fps, "rgb24", ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "1M",
                                                         "-pix_fmt", "yuv420p", "-g", "150"])
    step = repeat / fps
    parts = _runs([label for _, label, _ in items], step)
    result, _ = process({"recordings": [{"path": str(path)}], "options": {}})
    found = [v for v in result["violations"] if v["type"] == "phone_visible"]
    return {"record": "clip", "seconds": round(len(items) * step, 1), "parts": parts,
            "phone_visible": [(v["start_s"], v["end_s"], v["details"]["score"], v["confidence"]) for v in found],
            "alarms_on_other_parts": {k: sum(1 for v in found if _inside(v, parts, k)) for k in ("wallet", "earbuds")},
            "phone_parts_found": sum(1 for p in parts if p[2] == "phone" and any(
                v["start_s"] < p[1] and v["end_s"] > p[0] for v in found)),
            "phone_parts": sum(1 for p in parts if p[2] == "phone")}


def _runs(labels: list[str], step: float) -> list[tuple[float, float, str]]:
    runs: list[tuple[float, float, str]] = []
    for i, label in enumerate(labels):
        if runs and runs[-1][2] == label:
            runs[-1] = (runs[-1][0], round((i + 1) * step, 2), label)
        else:
            runs.append((round(i * step, 2), round((i + 1) * step, 2), label))
    return runs


def _inside(v: dict, parts: list[tuple[float, float, str]], kind: str) -> bool:
    mid = (v["start_s"] + v["end_s"]) / 2
    return any(p[2] == kind and p[0] <= mid <= p[1] for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", default=None, help="folders with local git copies (ML_REALDATA_SOURCES)")
    parser.add_argument("--out", type=Path, default=None, help="where the clip is written (default: a temp dir)")
    parser.add_argument("--hold-s", type=float, default=0.5, help="how long each capture is shown in the clip")
    args = parser.parse_args(argv)
    git_dir = find_source(REPO, source_roots({"ML_REALDATA_SOURCES": args.sources} if args.sources else None))
    if git_dir is None:
        print(json.dumps({"record": "unavailable", "error": f"{REPO} not found (clone it under a source folder)"}))
        return 1
    items = frames(git_dir)
    for record in per_frame(items):
        print(json.dumps(record), flush=True)
    with tempfile.TemporaryDirectory(prefix="webcam-objects-real-") as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        print(json.dumps(per_clip(items, out_dir, args.hold_s)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
