"""Real sets: manifests, the verified cache built from local git copies, reuse, clear failures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import types
import wave
from pathlib import Path

import pytest

from ml_service.samples import realsets
from ml_service.samples import Sample


def _wav(path: Path, seconds: float) -> bytes:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\1\0" * int(8000 * seconds))
    return path.read_bytes()


@pytest.fixture()
def source(tmp_path: Path) -> tuple[Path, str, bytes]:
    """A clone-layout source repository ``<root>/acme/speech`` holding one committed wav."""
    repo = tmp_path / "sources" / "acme" / "speech"
    repo.mkdir(parents=True)
    data = _wav(repo / "a.wav", 2.0)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "a.wav"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    (repo / "a.wav").write_bytes(b"changed after the commit")  # the cache must read the commit, not the tree
    return tmp_path / "sources", commit, data


def _manifest(tmp_path: Path, commit: str, sha: str, **extra) -> Path:
    path = tmp_path / "x.manifest.json"
    path.write_text(json.dumps({
        "schema": realsets.MANIFEST_SCHEMA, "modality": "fake",
        "sources": [{"repo": "acme/speech", "commit": commit, "licence": "CC0-1.0", "attribution": "Acme"}],
        "files": [{"id": "clip", "repo": "acme/speech", "path": "a.wav", "sha256": sha, "speaker": "s1", **extra}],
    }))
    return path


def _builder(calls: list) -> types.ModuleType:
    module = types.ModuleType("fake_builder")
    module.__file__ = __file__

    def build(files: dict[str, Path], out_dir: Path) -> list[Sample]:
        calls.append(dict(files))
        return [Sample(name="clip", modality="fake", recordings=[files["clip"]], duration_s=2.0,
                       truth=[{"type": "speech", "start_s": 0.0, "end_s": 2.0}])]

    module.build = build
    return module


def test_a_set_is_built_from_the_pinned_commit_then_reused(tmp_path, source):
    roots, commit, data = source
    manifest = _manifest(tmp_path, commit, hashlib.sha256(data).hexdigest())
    calls: list = []
    built, reused = realsets.load_set("fake", tmp_path / "cache", [roots], builder=_builder(calls), manifest=manifest)
    assert not reused and [s.name for s in built] == ["clip"]
    assert calls[0]["clip"].read_bytes() == data
    again, reused = realsets.load_set("fake", tmp_path / "cache", [roots], builder=_builder(calls), manifest=manifest)
    assert reused and again[0].truth == built[0].truth and len(calls) == 1


def test_a_file_whose_sha256_differs_is_refused(tmp_path, source):
    roots, commit, _ = source
    manifest = _manifest(tmp_path, commit, "0" * 64)
    with pytest.raises(realsets.RealSetUnavailable, match="sha256 differs"):
        realsets.load_set("fake", tmp_path / "cache", [roots], builder=_builder([]), manifest=manifest)


def test_a_missing_source_repository_is_named(tmp_path, source):
    _, commit, data = source
    manifest = _manifest(tmp_path, commit, hashlib.sha256(data).hexdigest())
    with pytest.raises(realsets.RealSetUnavailable, match="acme/speech"):
        realsets.load_set("fake", tmp_path / "cache", [tmp_path / "empty"], builder=_builder([]), manifest=manifest)


def test_the_bare_fetch_layout_is_found(tmp_path, source):
    roots, commit, data = source
    bare = tmp_path / "mirror" / "acme+speech" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(roots / "acme" / "speech"), str(bare)], check=True)
    assert realsets.find_source("acme/speech", [tmp_path / "mirror"]) == bare
    files = realsets.materialise(realsets.read_manifest(_manifest(tmp_path, commit, hashlib.sha256(data).hexdigest())),
                                 tmp_path / "cache", [tmp_path / "mirror"])
    assert files["clip"].read_bytes() == data


def test_extra_annotations_are_kept(tmp_path, source):
    _, commit, data = source
    parsed = realsets.read_manifest(_manifest(tmp_path, commit, hashlib.sha256(data).hexdigest()))
    assert parsed.files[0].extra == {"speaker": "s1"}


def test_manifest_problems_are_reported_together(tmp_path):
    path = tmp_path / "bad.manifest.json"
    path.write_text(json.dumps({
        "schema": realsets.MANIFEST_SCHEMA,
        "sources": [{"repo": "acme/speech", "commit": "abc", "licence": "", "attribution": "A"}],
        "files": [{"id": "a", "repo": "other/repo", "path": "x", "sha256": "z"},
                  {"id": "b", "local": "x.wav", "sha256": "1" * 64}],
    }))
    with pytest.raises(ValueError) as info:
        realsets.read_manifest(path)
    text = str(info.value)
    for part in ("commit must be 40", "licence is required", "sha256 must be 64", "repo listed in sources",
                 "committed file needs licence"):
        assert part in text


def test_every_shipped_manifest_is_valid_and_has_a_builder():
    for name in realsets.set_names():
        parsed = realsets.read_manifest(realsets.manifest_path(name))
        module = __import__(f"ml_service.samples.realsets.{name}", fromlist=["build"])
        # a set recorded here from Debian programs (screencast: a real X desktop) has no source file
        assert parsed.modality == name and (parsed.files or getattr(module, "RECORDED_HERE", False))
        assert callable(module.build)
        for item in parsed.files:
            if item.local:
                data = (realsets.REPO_ROOT / item.local).read_bytes()
                assert hashlib.sha256(data).hexdigest() == item.sha256, item.id
