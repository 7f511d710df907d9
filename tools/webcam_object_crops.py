"""Rebuild the committed object cut-outs of ``ml_service/samples/data/webcam_objects/``.

    python tools/webcam_object_crops.py [--sources /work/.mirror]

Each cut-out is a small JPEG: a rectangle of a real photograph (a COCO image under a
Creative Commons Attribution licence, or a frame of a CC BY 4.0 webcam dataset); the sample
generator feathers its edges. The phones and wallets held in a hand also get a mask
(``<name>_mask.png``: the hand and the object, without the wall behind them). Sources are read from local git copies (see
ml_service/samples/realsets: ``<folder>/<owner>+<name>/repo``); ``objects.json`` records, per
cut-out, the source repository, commit, path, sha256, region, licence and attribution.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml_service.samples.realsets import find_source, source_roots  # noqa: E402

OUT = ROOT / "ml_service" / "samples" / "data" / "webcam_objects"
COCO = ("Obmutescence/COCO-MINI", "644f29e7c1d2eefd9c4412d39bc5b0ee6fd0afd4")
KAZ = ("Kazuhito00/YOLOX-ONNX-TFLite-Sample", "3d4f1119d0694200671c08069ecb847aa0d8495a")
RF = ("aitkherimed1228/Yolov10_project", None)
_RF_ATTR = ("Roboflow Universe project 'detection-necem' (workspace detection-hfuet), "
            "https://universe.roboflow.com/detection-hfuet/detection-necem/dataset/2, CC BY 4.0")
_LICENCES = {4: "CC-BY-2.0", 5: "CC-BY-SA-2.0"}

# name, kind, repo, path, region (x0, y0, x1, y1 in the source's pixels; for the webcam frames
# in the 640x480 frame they were stretched from), COCO annotation id or None, licence, flickr url
CROPS = [
    # phones and wallets held in front of the body, cut out of the wall behind them (masked)
    ("phone_a", "phone", RF, "detection-2/train/images/opencv_frame_171_png.rf.5ad93163078af3c28828d912f564a3c7.jpg", "mask"),
    ("phone_b", "phone", RF, "detection-2/train/images/opencv_frame_172_png.rf.7ec0b6ff041518330e515e5f2a6f8693.jpg", "mask"),
    ("phone_c", "phone", RF, "detection-2/train/images/opencv_frame_174_png.rf.c0de3650f2db216604cfd4416f0a0876.jpg", "mask"),
    ("phone_d", "phone", RF, "detection-2/train/images/opencv_frame_201_png.rf.85aa6caeb45faaf5158c5602ec4b94a6.jpg", "mask"),
    ("wallet_a", "wallet", RF, "detection-2/train/images/opencv_frame_40_png.rf.a3d4af65ddb69db6f1f78d3e9e10f2e5.jpg", "mask"),
    ("wallet_b", "wallet", RF, "detection-2/train/images/opencv_frame_10_png.rf.79127fc51fd72c3523474c34abb971ff.jpg", "mask"),
    ("hand_a", "hand", RF, "detection-2/train/images/opencv_frame_110_png.rf.8e0dcd5d4bcdc772b7d2614480fdc46d.jpg", None),
    ("hand_b", "hand", RF, "detection-2/train/images/opencv_frame_120_png.rf.8916dab57c3069624efa12217ba149dc.jpg", None),
    ("book_a", "book", COCO, "train2017/000000121647.jpg", (0, 71, 316, 302)),
    ("book_b", "book", COCO, "val2017/000000403353.jpg", (168, 300, 312, 406)),
    ("screen_a", "screen", KAZ, "representative_dataset/000000009483.jpg", (440, 205, 590, 355)),
    ("screen_b", "screen", COCO, "val2017/000000255165.jpg", (355, 234, 499, 367)),
    ("laptop_a", "screen", COCO, "train2017/000000516008.jpg", (250, 30, 530, 300)),
    ("person_back", "person", KAZ, "representative_dataset/000000001268.jpg", (490, 90, 640, 427)),
    ("mug", "mug", KAZ, "representative_dataset/000000002592.jpg", (228, 28, 450, 250)),
]
_FLICKR = {
    "000000121647.jpg": (4, "http://farm5.staticflickr.com/4143/4801592343_9090102314_z.jpg"),
    "000000403353.jpg": (4, "http://farm9.staticflickr.com/8486/8245255095_5669dbf878_z.jpg"),
    "000000009483.jpg": (4, "http://farm4.staticflickr.com/3179/2986591710_d76622fdf0_z.jpg"),
    "000000255165.jpg": (4, "http://farm4.staticflickr.com/3476/3267385733_e061c6b8fb_z.jpg"),
    "000000516008.jpg": (4, "http://farm8.staticflickr.com/7190/6982311426_84d0a1f396_z.jpg"),
    "000000001268.jpg": (4, "http://farm6.staticflickr.com/5454/9413846304_881d5e5c3b_z.jpg"),
    "000000002592.jpg": (5, "http://farm4.staticflickr.com/3271/2864950455_3f5b5086da_z.jpg"),
}
_LABEL_CLASS = {"phone": 1, "hand": 0, "wallet": 2}  # the webcam dataset's classes: airpods, phone, wallet
_MAX_SIDE = 240


def _blob(git_dir: Path, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{rev}:{path}"], capture_output=True,
                          check=True).stdout


def _webcam_region(git_dir: Path, rev: str, path: str, kind: str, masked: bool) -> tuple[int, int, int, int]:
    """The labelled box of the webcam frame (stretched back to 640x480), widened to take in
    the hand that holds the object (a masked cut-out: down to the wrist)."""
    label = path.replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt"
    rows = [line.split() for line in _blob(git_dir, rev, label).decode().splitlines() if line.strip()]
    c, x, y, w, h = next(map(float, r[:5]) for r in rows if int(r[0]) == _LABEL_CLASS[kind])
    if masked:
        x0, x1, y0, y1 = (x - 0.8 * w) * 640, (x + 0.8 * w) * 640, (y - 0.7 * h) * 480, (y + 1.4 * h) * 480
    else:
        grow = 1.3 if kind == "phone" else 1.9
        x0, x1 = (x - grow * w / 2) * 640, (x + grow * w / 2) * 640
        y0, y1 = (y - grow * h / 2) * 480, (y + grow * h / 2 + (0.3 * h if kind == "hand" else 0)) * 480
    return max(0, int(x0)), max(0, int(y0)), min(640, int(x1)), min(480, int(y1))


def _mask(crop: np.ndarray) -> np.ndarray:
    """The held object and the hand, without the bright plain wall behind them: pixels that are
    not bright and grey, opened, the largest connected part (the hand and what it holds)."""
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    keep = ~((hsv[..., 2] > 150) & (hsv[..., 1] < 70))
    keep = cv2.morphologyEx(keep.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(keep)
    if n < 2:
        return np.full(crop.shape[:2], 255, np.uint8)
    part = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    part = cv2.morphologyEx(part, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    return part * 255


def build(roots: list[Path]) -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    records = []
    for name, kind, (repo, commit), path, region in CROPS:
        masked = region == "mask"
        git_dir = find_source(repo, roots)
        if git_dir is None:
            raise SystemExit(f"{repo} not found under {roots}")
        rev = commit or subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True,
                                       text=True, check=True).stdout.strip()
        data = _blob(git_dir, rev, path)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if repo == RF[0]:
            img = cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA)
            region = _webcam_region(git_dir, rev, path, kind, masked)
        x0, y0, x1, y1 = region
        crop = img[y0:y1, x0:x1]
        scale = min(1.0, _MAX_SIDE / max(crop.shape[:2]))
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(OUT / f"{name}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        record = _record(name, kind, repo, rev, path, data, region, scale)
        if masked:
            cv2.imwrite(str(OUT / f"{name}_mask.png"), _mask(crop))
            record["mask"] = f"{name}_mask.png"
            record["mask_sha256"] = hashlib.sha256((OUT / record["mask"]).read_bytes()).hexdigest()
        records.append(record)
    (OUT / "objects.json").write_text(json.dumps({"objects": records}, indent=1) + "\n")
    return records


def _record(name: str, kind: str, repo: str, rev: str, path: str, data: bytes, region, scale: float) -> dict:
    file = Path(path).name
    if repo == RF[0]:
        licence, attribution = "CC-BY-4.0", _RF_ATTR
    else:
        lic, url = _FLICKR[file]
        licence = _LICENCES[lic]
        attribution = f"COCO 2017 image {file} (cocodataset.org), Flickr photo {url}, {licence}"
    return {"name": name, "kind": kind, "file": f"{name}.jpg", "repo": repo, "commit": rev, "path": path,
            "source_sha256": hashlib.sha256(data).hexdigest(), "region": [int(v) for v in region],
            "scale": round(scale, 4), "licence": licence, "attribution": attribution,
            "sha256": hashlib.sha256((OUT / f"{name}.jpg").read_bytes()).hexdigest()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", default=None)
    args = parser.parse_args()
    roots = source_roots({"ML_REALDATA_SOURCES": args.sources} if args.sources else None)
    for r in build(roots):
        print(r["name"], r["licence"], r["region"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
