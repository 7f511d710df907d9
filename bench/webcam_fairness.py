"""Webcam fairness: face presence, landmark failures and identity errors by skin-tone group.

    python bench/webcam_fairness.py [--cache DIR] [--per-group N] [--json]

The faces are UTKFace adults (``ml_service/samples/realsets/webcam-faces.json``: 150 per ethnicity
label, built into the real-set cache from a local copy of the source repository). Two groupings
are reported: the dataset's ethnicity label, and a skin-tone group measured on each face (the
Individual Typology Angle of the cheeks' CIELAB colour: light > 41 degrees, intermediate 28-41,
tan 10-28, brown/dark < 10).

Each face is placed as a webcam would see it, in two conditions: ``good`` (a 640x480 frame,
face ~150 px, even light) and ``poor`` (face ~75 px, 45 % exposure, JPEG quality 35: a cheap
webcam in a dim room). Per group and condition:

- presence recall: the handler finds the face (its FaceLandmarker on the frame, else the
  full-range detector's box landmarked on its enlarged region, as in ``analyse.py``);
- landmark failure: a face is found but its landmarks are implausible for a frontal photo:
  the outer eye corners apart by less than 0.45 or more than 0.95 of the face width, the face
  centre more than a quarter of its width from the photo's, or a head pose beyond 35 degrees;
- identity, at the handler's threshold (0.6): FNMR = a face against its own ``poor`` copy
  (same photo, degraded: a lower bound of real same-person errors); FMR = pairs of different
  people of the same group, gender and age within 5 years (demographically matched impostors,
  the "look-alikes" of a balanced test).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml_service import realsets  # noqa: E402

MANIFEST = Path(realsets.__file__).with_name("webcam-faces.json")
THRESHOLD = 0.6


def webcam_frame(chip: np.ndarray, face_px: int, gain: float, jpeg: int) -> np.ndarray:
    """A 640x480 RGB frame with the 200x200 aligned chip (face ~0.7 of it) pasted at the centre."""
    side = int(face_px / 0.7)
    frame = np.full((480, 640, 3), 120, np.uint8)
    patch = cv2.resize(chip, (side, side), interpolation=cv2.INTER_AREA if side < 200 else cv2.INTER_CUBIC)
    y0, x0 = 240 - side // 2 - 20, 320 - side // 2
    frame[max(0, y0):y0 + side, x0:x0 + side] = patch[max(0, -y0):]
    frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


CONDITIONS = {"good": (150, 1.0, 90), "poor": (75, 0.45, 35)}


def ita_group(chip_rgb: np.ndarray) -> str:
    """Skin-tone group from the Individual Typology Angle of both cheeks (chip coordinates)."""
    lab = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    cheeks = np.concatenate([lab[110:135, 45:75].reshape(-1, 3), lab[110:135, 125:155].reshape(-1, 3)])
    lightness = np.median(cheeks[:, 0]) * 100 / 255
    b = np.median(cheeks[:, 2]) - 128
    ita = float(np.degrees(np.arctan2(lightness - 50, max(b, 1e-3))))
    return "light" if ita > 41 else "intermediate" if ita > 28 else "tan" if ita > 10 else "brown/dark"


def measure(files: dict[str, Path], meta: dict[str, dict]) -> list[dict]:
    from handlers.webcam.faces import Landmarker
    from handlers.webcam.identity import Encoder
    from handlers.webcam.options import Options
    from handlers.webcam.scanner import Scanner

    model, rescuer, encoder, rows = Landmarker(1, video=False), Scanner(Options()), Encoder(), []
    try:
        for fid, path in sorted(files.items()):
            chip = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            row = {"id": fid, **meta[fid], "tone": ita_group(chip)}
            for cond, (px, gain, jpeg) in CONDITIONS.items():
                frame = cv2.cvtColor(webcam_frame(cv2.cvtColor(chip, cv2.COLOR_RGB2BGR), px, gain, jpeg), cv2.COLOR_BGR2RGB)
                faces = model.detect(frame) or rescuer.rescue(frame)
                row[f"{cond}_found"] = bool(faces)
                row[f"{cond}_landmark_fail"] = bool(faces) and _implausible(faces[0], px)
                row[f"{cond}_emb"] = encoder.encode(frame, faces[0].points5).tolist() if faces else None
            rows.append(row)
    finally:
        model.close()
        rescuer.confirmer.close()
    return rows


def _implausible(face, face_px: int) -> bool:
    (rx, ry), (lx, ly) = face.points5[0], face.points5[2]
    eyes = float(np.hypot(rx - lx, ry - ly)) / max(face.width, 1.0)
    cx, cy = face.centre
    off = np.hypot(cx - 320, cy - (240 - 20)) / face_px
    return not 0.45 <= eyes <= 0.95 or off > 0.25 or abs(face.yaw) > 35 or abs(face.pitch) > 35


def summarise(rows: list[dict], key: str) -> dict[str, dict]:
    out = {}
    for group in sorted({r[key] for r in rows}):
        mine = [r for r in rows if r[key] == group]
        stats = {"faces": len(mine)}
        for cond in CONDITIONS:
            found = [r for r in mine if r[f"{cond}_found"]]
            stats[f"{cond}_presence"] = len(found) / len(mine)
            stats[f"{cond}_landmark_fail"] = sum(r[f"{cond}_landmark_fail"] for r in found) / max(1, len(found))
        stats.update(_identity(mine))
        out[group] = stats
    return out


def _identity(mine: list[dict]) -> dict[str, float]:
    genuine = [np.linalg.norm(np.subtract(r["good_emb"], r["poor_emb"])) for r in mine if r["good_emb"] and r["poor_emb"]]
    impostor = [np.linalg.norm(np.subtract(a["good_emb"], b["good_emb"])) for a, b in combinations(mine, 2)
                if a["good_emb"] and b["good_emb"] and a["gender"] == b["gender"] and abs(a["age"] - b["age"]) <= 5]
    return {"fnmr": float(np.mean(np.array(genuine) > THRESHOLD)) if genuine else float("nan"),
            "fmr": float(np.mean(np.array(impostor) <= THRESHOLD)) if impostor else float("nan"),
            "genuine_pairs": len(genuine), "impostor_pairs": len(impostor)}


def _table(title: str, summary: dict[str, dict]) -> str:
    head = ("| group | faces | presence good | presence poor | landmark fail good | landmark fail poor "
            "| FNMR (own degraded copy) | FMR (matched impostors) |\n|" + " --- |" * 8)
    lines = [f"{title}\n", head]
    for g, s in summary.items():
        lines.append(f"| {g} | {s['faces']} | {100 * s['good_presence']:.1f} % | {100 * s['poor_presence']:.1f} % | "
                     f"{100 * s['good_landmark_fail']:.1f} % | {100 * s['poor_landmark_fail']:.1f} % | "
                     f"{100 * s['fnmr']:.1f} % ({s['genuine_pairs']}) | {100 * s['fmr']:.2f} % ({s['impostor_pairs']}) |")
    for cond in CONDITIONS:
        vals = [100 * s[f"{cond}_presence"] for s in summary.values()]
        lines.append(f"\npresence disparity ({cond}): {max(vals) - min(vals):.1f} points")
    return "\n".join(lines)


def _per_group(files: list, n: int) -> list:
    """The first ``n`` files of each ethnicity label, in manifest order."""
    counts: dict[str, int] = {}
    chosen = []
    for f in files:
        group = f.extra["group"]
        if counts.get(group, 0) < n:
            counts[group] = counts.get(group, 0) + 1
            chosen.append(f)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--per-group", type=int, default=150, help="faces per ethnicity label (manifest order)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    manifest = realsets.read_manifest(MANIFEST)
    cache = (args.cache or realsets.default_cache()) / "webcam-faces"
    try:
        files = realsets.materialise(manifest, cache, realsets.source_roots())
    except realsets.RealSetUnavailable as exc:
        print(json.dumps({"status": "real_set_unavailable", "error": str(exc)}))
        return 1
    chosen = _per_group(manifest.files, args.per_group)
    rows = measure({f.id: files[f.id] for f in chosen}, {f.id: f.extra for f in chosen})
    for key, title in (("group", "By UTKFace ethnicity label"), ("tone", "By measured skin tone (ITA)")):
        summary = summarise(rows, key)
        print(json.dumps({"record": "fairness", "by": key, "summary": summary}))
        if not args.json:
            print(_table(title, summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
