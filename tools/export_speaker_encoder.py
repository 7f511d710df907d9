"""One-off: export resemblyzer's speaker encoder to ONNX and write its provenance.

Run once on a developer machine, never in the image or in CI::

    pip install torch==2.13.0 librosa==0.11.0 webrtcvad-wheels==2.0.14.post1 onnx==1.23.2
    pip install --no-deps resemblyzer==0.1.4
    apt-get install espeak-ng ffmpeg
    python tools/export_speaker_encoder.py            # writes handlers/audio/models/

``torch==2.13.0`` must be the local CPU wheel (pip picks it on these machines); never let pip
resolve torch from the registry (several GB of CUDA packages).

It writes ``speaker_encoder.onnx`` (batch and frame axes dynamic), copies resemblyzer's
Apache-2.0 ``LICENSE`` and writes ``PROVENANCE.md``: source, versions, shapes, SHA-256, and
parity with the torch model on a test clip made by espeak-ng (mel front end: our numpy
version against resemblyzer's librosa one; network: onnxruntime against torch on the same
windows; end to end: our windows + ONNX against ``VoiceEncoder.embed_utterance``).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import warnings
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.audio import embedding  # noqa: E402
from handlers.audio.decode import decode  # noqa: E402

TEST_TEXT = ("Please read question four aloud, then write your answer on the sheet. "
             "The exam ends at noon, and phones must stay in your bag.")
TEST_VOICE = ["-v", "en-us+m3", "-p", "35"]
OPSET = 17


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "handlers" / "audio" / "models")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    from resemblyzer import VoiceEncoder, preprocess_wav
    from resemblyzer.audio import wav_to_mel_spectrogram

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "speaker_encoder.onnx"
    encoder = VoiceEncoder("cpu", verbose=False).eval()
    _export(torch, encoder, onnx_path)
    wav = preprocess_wav(_test_clip())
    parity = _parity(torch, encoder, wav, wav_to_mel_spectrogram)
    pretrained = Path(sys.modules["resemblyzer"].__file__).parent / "pretrained.pt"
    dist = metadata.distribution("resemblyzer")
    shutil.copyfile(Path(dist.locate_file(f"{dist.metadata['Name']}-{dist.version}.dist-info")) / "LICENSE",
                    args.out / "LICENSE")
    _write_provenance(args.out / "PROVENANCE.md", onnx_path, pretrained, parity, torch.__version__, len(wav))
    print((args.out / "PROVENANCE.md").read_text())
    return 0


def _export(torch, encoder, path: Path) -> None:
    example = torch.rand(2, embedding.WINDOW_FRAMES, embedding.N_MELS)
    torch.onnx.export(
        encoder, (example,), str(path), dynamo=False, opset_version=OPSET,
        input_names=["mels"], output_names=["embedding"],
        dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
    )


def _test_clip() -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        subprocess.run(["espeak-ng", *TEST_VOICE, "-w", str(wav), TEST_TEXT], check=True)
        return decode(wav)


def _parity(torch, encoder, wav: np.ndarray, librosa_mel) -> dict[str, float]:
    ours_mel, theirs_mel = embedding.mel_frames(wav), librosa_mel(wav)
    mel_err = float(np.abs(ours_mel - theirs_mel).max() / np.abs(theirs_mel).max())
    windows, _ = embedding.window_mels(wav, hop_frames=int(round(100 / 1.3)))
    with torch.no_grad():
        torch_net = encoder(torch.from_numpy(windows)).numpy()
    onnx_net = embedding.embed(windows)
    ref, ref_partials, _ = encoder.embed_utterance(wav, return_partials=True)
    mine = onnx_net.mean(axis=0)
    mine /= np.linalg.norm(mine)
    return {
        "mel_max_rel_error": mel_err,
        "net_max_abs_diff": float(np.abs(torch_net - onnx_net).max()),
        "net_min_cosine": float((torch_net * onnx_net).sum(axis=1).min()),
        "e2e_windows": len(windows),
        "e2e_partials_torch": len(ref_partials),
        "e2e_utterance_cosine": float(np.dot(ref, mine)),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_provenance(path: Path, onnx_path: Path, pretrained: Path, parity: dict, torch_version: str,
                      clip_samples: int) -> None:
    import onnxruntime

    lines = [
        "# speaker_encoder.onnx: provenance",
        "",
        "Resemblyzer's pretrained GE2E speaker encoder, exported to ONNX so that the audio handler",
        "runs it with onnxruntime alone (no torch in the image or in CI).",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| source | PyPI `resemblyzer==0.1.4`, file `resemblyzer/pretrained.pt` (sha256 `{_sha256(pretrained)}`) |",
        "| upstream | Resemble AI, Resemblyzer (Corentin Jemine); model from Real-Time-Voice-Cloning |",
        "| licence | Apache-2.0, `LICENSE` beside this file (copied from the wheel) |",
        "| network | `VoiceEncoder`: LSTM(40, 256, 3 layers) -> Linear(256, 256) -> ReLU -> L2 norm (last hidden state) |",
        f"| exported with | torch {torch_version}, `torch.onnx.export(..., dynamo=False, opset_version={OPSET})`, onnx {metadata.version('onnx')} |",
        "| export command | `python tools/export_speaker_encoder.py` (its docstring lists the one-off installs) |",
        f"| exported on | {date.today().isoformat()} |",
        "| input | `mels`: float32 `[batch, frames, 40]`, mel power frames (not log), 25 ms / 10 ms, 16 kHz; resemblyzer uses frames = 160 |",
        "| output | `embedding`: float32 `[batch, 256]`, non-negative, unit L2 norm |",
        f"| file size | {onnx_path.stat().st_size} bytes |",
        f"| sha256 | `{_sha256(onnx_path)}` |",
        "",
        "## Parity with the torch model",
        "",
        f"Test clip: espeak-ng `{' '.join(TEST_VOICE)}` saying \"{TEST_TEXT}\", decoded to 16 kHz by",
        f"`handlers/audio/decode.py`, then resemblyzer's `preprocess_wav` ({clip_samples} samples). onnxruntime {onnxruntime.__version__}.",
        "",
        "| check | value |",
        "| --- | --- |",
        f"| mel front end: numpy `mel_frames` vs resemblyzer/librosa 0.11, max abs error / max value | {parity['mel_max_rel_error']:.2e} |",
        f"| network on the same {parity['e2e_windows']} windows: max abs difference, ONNX vs torch | {parity['net_max_abs_diff']:.2e} |",
        f"| network: lowest cosine similarity of a window, ONNX vs torch | {parity['net_min_cosine']:.7f} |",
        f"| end to end: utterance embedding, ours vs `VoiceEncoder.embed_utterance` (rate 1.3/s, {parity['e2e_partials_torch']} partials), cosine | {parity['e2e_utterance_cosine']:.7f} |",
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
