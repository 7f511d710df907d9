"""Real recordings from public sources: manifests, a cache, and labelled real sets.

Generated samples (:mod:`ml_service.samples`) test what we planned; real sets show what happens
on real voices, people, desktops and typists. A real set has two parts, both in this package:

- ``<modality>.manifest.json``: the source files, each named by repository, commit, path and
  sha256, with the licence and attribution of its source (schema below). A file small enough and
  licensed for redistribution may instead be committed in the repository (``local``).
- ``<modality>.py``: a builder, ``build(files: dict[str, Path], out_dir: Path) -> list[Sample]``,
  that cuts, mixes and annotates the source files into labelled samples (the same
  :class:`~ml_service.samples.Sample` records as the generated sets, so ``bench/quality.py`` and
  :mod:`ml_service.samples.evaluation` score both alike). Helper modules of a builder are named
  ``<modality>_*.py``; a build is reused while the manifest, the builder and its helpers are unchanged.

Nothing is downloaded. Sources are read from local git copies found under the folders named by
``ML_REALDATA_SOURCES`` (``os.pathsep``-separated; default ``/work/.mirror``): a bare copy at
``<folder>/<owner>+<name>/repo`` (the layout of the team's fetch tool) or a clone at
``<folder>/<owner>/<name>``. ``git clone https://github.com/<owner>/<name>`` into such a folder
is how a user brings one. When a source is missing, :class:`RealSetUnavailable` names it; tests
that run in CI never depend on a real set.

Manifest (``ml-service/real-manifest/1``)::

    {"schema": "ml-service/real-manifest/1", "modality": "audio", "description": "...",
     "sources": [{"repo": "owner/name", "commit": "<40 hex>", "licence": "CC-BY-4.0",
                  "attribution": "...", "url": "https://github.com/owner/name"}],
     "files": [{"id": "spk1", "repo": "owner/name", "path": "data/a.wav", "sha256": "<64 hex>"},
               {"id": "spk2", "local": "ml_service/samples/realsets/data/b.wav", "sha256": "<64 hex>",
                "licence": "CC0-1.0", "attribution": "..."}]}

Extra keys on a file (annotations, notes) are kept and passed on in :attr:`RealFile.extra`.
``python -m ml_service.samples.realsets --modality M`` builds a set and prints where it is.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ml_service.samples import STAMP_NAME, Sample, reuse_set, write_truth

__all__ = [
    "MANIFEST_SCHEMA",
    "Manifest",
    "RealFile",
    "RealSetUnavailable",
    "default_cache",
    "find_source",
    "load_set",
    "manifest_path",
    "materialise",
    "read_manifest",
    "set_names",
    "source_roots",
]

MANIFEST_SCHEMA = "ml-service/real-manifest/1"
REPO_ROOT = Path(__file__).resolve().parents[3]
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RealSetUnavailable(Exception):
    """A real set cannot be built here: a source repository or file is missing, or differs."""


@dataclass(frozen=True)
class RealFile:
    """One source file of a real set."""

    id: str
    sha256: str
    repo: str | None = None
    path: str | None = None
    local: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def suffix(self) -> str:
        return Path(self.path or self.local or "").suffix


@dataclass(frozen=True)
class Manifest:
    """A parsed, validated manifest."""

    modality: str
    description: str
    sources: dict[str, dict[str, Any]]
    files: list[RealFile]
    digest: str


def manifest_path(modality: str) -> Path:
    return Path(__file__).with_name(f"{modality}.manifest.json")


def set_names() -> list[str]:
    """Modalities that have a real-set manifest here."""
    return sorted(p.name.removesuffix(".manifest.json") for p in Path(__file__).parent.glob("*.manifest.json"))


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest; every problem is reported together in one ``ValueError``."""
    raw = Path(path).read_bytes()
    data = json.loads(raw)
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ValueError(f"{path}: not a {MANIFEST_SCHEMA} manifest")
    sources = {s.get("repo"): s for s in data.get("sources", []) if isinstance(s, dict)}
    for repo, source in sources.items():
        if not isinstance(repo, str) or not _REPO.match(repo):
            problems.append(f"source repo {repo!r} is not owner/name")
        elif not _HEX40.match(str(source.get("commit", ""))):
            problems.append(f"source {repo}: commit must be 40 lowercase hex digits")
        for key in ("licence", "attribution"):
            if not source.get(key):
                problems.append(f"source {repo}: {key} is required")
    files = [_real_file(i, f, sources, problems) for i, f in enumerate(data.get("files", []))]
    ids = [f.id for f in files if f]
    if len(set(ids)) != len(ids):
        problems.append("file ids must be unique")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Manifest(str(data.get("modality", "")), str(data.get("description", "")), sources,
                    [f for f in files if f], hashlib.sha256(raw).hexdigest()[:16])


def _real_file(index: int, item: Any, sources: dict, problems: list[str]) -> RealFile | None:
    where = f"files[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        problems.append(f"{where}: needs a string id")
        return None
    if not _HEX64.match(str(item.get("sha256", ""))):
        problems.append(f"{where} ({item['id']}): sha256 must be 64 lowercase hex digits")
    if "local" in item:
        if not all(item.get(k) for k in ("licence", "attribution")):
            problems.append(f"{where} ({item['id']}): a committed file needs licence and attribution")
    elif item.get("repo") not in sources or not item.get("path"):
        problems.append(f"{where} ({item['id']}): needs path and a repo listed in sources")
    known = {"id", "sha256", "repo", "path", "local"}
    return RealFile(item["id"], str(item.get("sha256", "")), item.get("repo"), item.get("path"),
                    item.get("local"), {k: v for k, v in item.items() if k not in known})


def source_roots(environ: dict[str, str] | None = None) -> list[Path]:
    """Folders searched for source repositories (``ML_REALDATA_SOURCES``)."""
    text = (environ if environ is not None else os.environ).get("ML_REALDATA_SOURCES", "/work/.mirror")
    return [Path(p) for p in text.split(os.pathsep) if p]


def default_cache(environ: dict[str, str] | None = None) -> Path:
    """``ML_REALDATA_CACHE`` or ``~/.cache/ml-service/real``."""
    env = environ if environ is not None else os.environ
    return Path(env.get("ML_REALDATA_CACHE") or Path.home() / ".cache" / "ml-service" / "real")


def find_source(repo: str, roots: list[Path]) -> Path | None:
    """The git directory (bare or a clone's work tree) holding ``owner/name``, if any."""
    owner, name = repo.split("/", 1)
    for root in roots:
        for candidate in (root / f"{owner}+{name}" / "repo", root / owner / name):
            if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
                return candidate
    return None


def materialise(manifest: Manifest, cache_dir: Path, roots: list[Path]) -> dict[str, Path]:
    """Copy every file of ``manifest`` into ``cache_dir/files`` (verified); ``{id: path}``."""
    target = Path(cache_dir) / "files"
    target.mkdir(parents=True, exist_ok=True)
    missing = sorted({f.repo for f in manifest.files if f.repo and find_source(f.repo, roots) is None})
    if missing:
        raise RealSetUnavailable(f"source repositories not found under {os.pathsep.join(map(str, roots))}: "
                                 f"{', '.join(missing)} (clone each as <folder>/<owner>/<name>)")
    return {f.id: _materialise_one(f, manifest, target, roots) for f in manifest.files}


def _materialise_one(item: RealFile, manifest: Manifest, target: Path, roots: list[Path]) -> Path:
    out = target / f"{item.id}{item.suffix}"
    if out.is_file() and _sha256(out.read_bytes()) == item.sha256:
        return out
    data = (REPO_ROOT / item.local).read_bytes() if item.local else _git_blob(item, manifest, roots)
    if _sha256(data) != item.sha256:
        raise RealSetUnavailable(f"{item.id}: sha256 differs from the manifest ({item.repo or 'local'}:"
                                 f"{item.path or item.local})")
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def _git_blob(item: RealFile, manifest: Manifest, roots: list[Path]) -> bytes:
    git_dir = find_source(item.repo or "", roots)
    commit = manifest.sources[item.repo]["commit"]
    done = subprocess.run(["git", "-C", str(git_dir), "show", f"{commit}:{item.path}"],
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RealSetUnavailable(f"{item.id}: {item.repo}@{commit[:10]}:{item.path} is not in {git_dir}: "
                                 f"{done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_set(modality: str, cache_root: Path | None = None, roots: list[Path] | None = None,
             force: bool = False, builder: ModuleType | None = None,
             manifest: Path | None = None) -> tuple[list[Sample], bool]:
    """Build (or reuse) the real set of ``modality`` in ``<cache_root>/<modality>/``.

    Returns ``(samples, reused)``. Raises :class:`RealSetUnavailable` when a source is missing.
    """
    parsed = read_manifest(manifest or manifest_path(modality))
    module = builder or importlib.import_module(f"{__name__}.{modality}")
    out_dir = Path(cache_root or default_cache()) / modality
    stamp = {"manifest": parsed.digest, "builder": _builder_version(module)}
    reused = None if force else reuse_set(out_dir, stamp)
    if reused is not None:
        return reused, True
    files = materialise(parsed, out_dir, roots if roots is not None else source_roots())
    samples_dir = out_dir / "samples"
    shutil.rmtree(samples_dir, ignore_errors=True)
    samples_dir.mkdir(parents=True)
    built = module.build(files, samples_dir)
    written = [str(write_truth(s, samples_dir).relative_to(out_dir)) for s in built]
    (out_dir / STAMP_NAME).write_text(json.dumps({**stamp, "truth_files": written}, indent=2) + "\n")
    return built, False


def _builder_version(module: ModuleType) -> str:
    """A hash of the builder and its helper modules (``<modality>_*.py`` beside it)."""
    source = Path(module.__file__)
    digest = hashlib.sha256()
    for path in [source, *sorted(source.parent.glob(f"{source.stem}_*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]

