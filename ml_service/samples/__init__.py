"""Labelled sample recordings: generated media with known truth, per modality.

``truth.py`` holds the :class:`Sample` record and its truth file. Each ``<modality>.py`` beside
it (owned by that analyser's author; see ``docs/samples-and-bench.md``) provides
``generate(out_dir, seed)`` and ``make_long(out_dir, minutes, seed)``. Modules are found with
:mod:`pkgutil`, so adding a modality edits no list: :func:`modality_names` is every module of
this package except ``truth`` and ``_private`` ones.

:func:`generate_set` writes one modality's set and its truth files, and reuses a folder whose
stamp file records the same seed and generator version (a hash of the generator's source and
of the package's private ``_*.py`` helpers). ``only=`` names a subset (the demo's few samples):
a generator whose ``generate`` takes ``only`` makes just those, byte for byte as in the whole
set; any other generator makes the whole set, which is then filtered. ``python -m
ml_service.samples`` is the CLI.

Beside the generators: ``realsets/`` (real recordings from public sources, built into a local
cache from a manifest), ``evaluation`` (scoring a handler's violations against truth) and
``hostile_media`` (malformed and oversized media for the hostile-input tests and bench).
May import: ``ml_service.core`` and the sandbox's small media makers; the core never imports it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import pkgutil
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

from ml_service.samples.truth import TRUTH_SUFFIX, Sample, handler_input, read_truth, write_truth

__all__ = [
    "STAMP_NAME",
    "Sample",
    "add_search_path",
    "generate_set",
    "generator_version",
    "handler_input",
    "load_modality",
    "modality_names",
    "read_truth",
    "reuse_set",
    "write_truth",
]

STAMP_NAME = "samples.stamp.json"
_NOT_MODALITIES = {"truth", "evaluation", "hostile_media", "realsets"}  # the harness, not generators


def add_search_path(folder: Path) -> None:
    """Also look for modality modules in ``folder`` (tests, out-of-tree modalities)."""
    text = str(Path(folder).absolute())
    if text not in __path__:
        __path__.append(text)


def modality_names() -> list[str]:
    """The modality modules present, sorted (``webcam``, ``audio``, ...)."""
    found = {m.name for m in pkgutil.iter_modules(__path__)}
    return sorted(n for n in found if not n.startswith("_") and n not in _NOT_MODALITIES)


def load_modality(name: str) -> ModuleType:
    """Import ``ml_service.samples.<name>``; import errors propagate unchanged."""
    return importlib.import_module(f"{__name__}.{name}")


def generator_version(module: ModuleType) -> str:
    """A short hash of the generator's source, the private ``_*.py`` helpers and ``truth.py``."""
    source = Path(module.__file__)
    files = sorted(source.parent.rglob("*.py")) if source.name == "__init__.py" else [source]
    for folder in map(Path, __path__):
        files += sorted(p for p in folder.glob("_*.py") if not p.name.startswith("__"))
    files.append(Path(__file__).with_name("truth.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def generate_set(name: str, out_dir: Path, seed: int = 0, force: bool = False,
                 only: Collection[str] | None = None) -> tuple[list[Sample], bool]:
    """Generate (or reuse) modality ``name``'s labelled set in ``out_dir``.

    Returns ``(samples, reused)``. Truth files are written next to the media; truth files of an
    earlier generation that the new one did not write are removed. ``only``: just the samples of
    these names, in the set's order (ValueError for a name the set does not have).
    """
    module = load_modality(name)
    out_dir = Path(out_dir)
    wanted = sorted(set(only)) if only is not None else None
    stamp = {"seed": seed, "generator": generator_version(module), "only": wanted}
    reused = None if force else reuse_set(out_dir, stamp)
    if reused is not None:
        return reused, True
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STAMP_NAME).unlink(missing_ok=True)
    samples = _checked_samples(name, _generate(module, out_dir, seed, wanted))
    written = [write_truth(s, out_dir).name for s in samples]
    for old in out_dir.glob(f"*{TRUTH_SUFFIX}"):
        if old.name not in written:
            old.unlink()
    (out_dir / STAMP_NAME).write_text(json.dumps({**stamp, "truth_files": written}, indent=2) + "\n")
    return samples, False


def _generate(module: ModuleType, out_dir: Path, seed: int, wanted: list[str] | None) -> object:
    """``module.generate``, passing ``only`` when it takes it; the result filtered to ``wanted``."""
    if wanted is None:
        return module.generate(out_dir, seed=seed)
    if "only" in inspect.signature(module.generate).parameters:
        made = module.generate(out_dir, seed=seed, only=set(wanted))
    else:
        made = module.generate(out_dir, seed=seed)
    if not isinstance(made, list):
        return made
    chosen = [s for s in made if getattr(s, "name", None) in wanted]
    missing = sorted(set(wanted) - {s.name for s in chosen})
    if missing:
        raise ValueError(f"{module.__name__}.generate() has no sample named {', '.join(missing)}")
    return chosen


def reuse_set(out_dir: Path, stamp: dict) -> list[Sample] | None:
    """The samples of ``out_dir`` if its stamp file matches ``stamp`` and every medium exists
    (a stamp written before ``only`` existed reads as a whole set)."""
    try:
        saved = json.loads((out_dir / STAMP_NAME).read_text())
        if {k: saved.get(k) for k in stamp} != stamp:
            return None
        samples = [read_truth(out_dir / f) for f in saved["truth_files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    media = [p for s in samples for p in (*s.recordings, s.reference_photo, s.reference_voice) if p]
    return samples if all(p.exists() for p in media) else None


def _checked_samples(name: str, samples: object) -> list[Sample]:
    if not isinstance(samples, list) or not all(isinstance(s, Sample) for s in samples):
        raise TypeError(f"ml_service.samples.{name}.generate() must return a list of Sample")
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        raise ValueError(f"ml_service.samples.{name}.generate() returned duplicate sample names")
    for s in samples:
        if s.modality != name:
            raise ValueError(f"sample {s.name!r} has modality {s.modality!r}, expected {name!r}")
        missing = [p for p in (*s.recordings, s.reference_photo, s.reference_voice) if p and not p.exists()]
        if missing:
            raise FileNotFoundError(f"sample {s.name!r}: media not written: {', '.join(map(str, missing))}")
    return samples
