"""The harness end to end on tiny fake modalities: sample discovery, bench/quality.py, bench/speed.py.

``fake_root`` is a folder laid out like the repository (``ml_service/samples/``, ``handlers/``,
``bench/``); the scripts see it through ``--modules-path``. The fake handler reports what each
sample's options tell it to, so every printed figure is known in advance.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from ml_service import samples
from ml_service.samples.__main__ import main as samples_main

REPO = Path(__file__).resolve().parent.parent

FAKE_SAMPLES = '''
import wave
from pathlib import Path
from ml_service.samples.truth import Sample

MODALITY = "fake"

def _wav(path, seconds):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
        w.writeframes(b"\\0\\0" * int(8000 * seconds))
    return path

def ev(kind, start, end):
    return {"type": kind, "start_s": start, "end_s": end}

def generate(out_dir, seed=0):
    def one(name, seconds, truth, predict, clean=False, checks=(), crash=False):
        return Sample(name, MODALITY, [_wav(out_dir / f"{name}.wav", seconds)], seconds, truth, clean=clean,
                      options={"predict": predict, "crash": crash, "seed": seed}, checks=list(checks))
    return [
        one("fake-exact", 10, [ev("talk", 2, 4)], [ev("talk", 2, 4)], checks=["talk"]),
        one("fake-partial", 10, [ev("talk", 1, 3), ev("noise", 5, 9)], [ev("talk", 1.5, 3), ev("noise", 0, 1)],
            checks=["talk", "noise"]),
        one("fake-clean", 3.6, [], [ev("talk", 0, 1)], clean=True),
        one("fake-crash", 10, [ev("talk", 1, 2)], [], checks=["talk"], crash=True),
    ]

def make_long(out_dir, minutes, seed=0):
    with open(out_dir / "make_long.calls", "a") as calls:
        calls.write(f"{minutes}\\n")
    return _wav(out_dir / f"long-{minutes:g}.wav", minutes * 60)
'''

FAKE_HANDLER = '''
import wave
from ml_service.core.results import build_result

def process(submission):
    if submission["options"]["crash"]:
        raise RuntimeError("fake crash")
    with wave.open(submission["recordings"][0]["path"]) as w:
        duration = w.getnframes() / w.getframerate()
    violations = [{**v, "confidence": 0.9} for v in submission["options"]["predict"]]
    return build_result(submission["modality"], violations, {"duration_s": duration}, 0.0), "ok"
'''

FAKE_SPEED = '''
import time, wave

def decode_only(path):
    time.sleep(0.05)
    with wave.open(str(path)) as w:
        return {"samples": len(w.readframes(w.getnframes())) // 2}

def pipeline(path):
    import subprocess, sys
    blob = b"x" * (30 * 1024 * 1024)
    # a helper process holds 40 MiB more at the same time (as segment workers do)
    subprocess.run([sys.executable, "-c", "import time; b = b'y' * (40 << 20); time.sleep(1.0)"], check=True)
    return {"media": {"duration_s": 3.0}, "violations": [{"type": "talk"}], "score": 1.0, "blob": [len(blob)]}

def naive(path, budget_s):
    return {"seconds_per_media_second": 0.5, "extrapolated": True}
'''

LAZY_SPEED = '''
import time

def decode_only(path):
    return {}

def pipeline(path):
    raise RuntimeError("boom")

def naive(path, budget_s):
    time.sleep(60)
'''

FILES = {
    "ml_service/samples/fake.py": FAKE_SAMPLES,
    "handlers/fake/__init__.py": "",
    "handlers/fake/fake.py": FAKE_HANDLER,
    "bench/speed_fake.py": FAKE_SPEED,
    # a handler that needs a package that is not installed
    "ml_service/samples/broken.py": "def generate(out_dir, seed=0):\n    return []\n",
    "handlers/broken/__init__.py": "",
    "handlers/broken/broken.py": "import not_a_real_package_xyz\n",
    # a generator with no handler and no make_long
    "ml_service/samples/nohandler.py": "def generate(out_dir, seed=0):\n    return []\n",
    "bench/speed_nohandler.py": "",
    # a generator that fails
    "ml_service/samples/badgen.py": "def generate(out_dir, seed=0):\n    raise RuntimeError('no encoder')\n",
    "handlers/badgen/__init__.py": "",
    "handlers/badgen/badgen.py": FAKE_HANDLER,
    # speed functions that raise and hang
    "ml_service/samples/lazy.py": "from ml_service.samples.fake import make_long\n",
    "bench/speed_lazy.py": LAZY_SPEED,
}
MODALITIES = ["badgen", "broken", "fake", "lazy", "nohandler"]


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    root = tmp_path / "overlay"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.setattr(samples, "__path__", list(samples.__path__))  # restored afterwards
    yield root
    for name in MODALITIES:
        sys.modules.pop(f"ml_service.samples.{name}", None)


def _run(script: str, *args: str, cwd: Path) -> tuple[list[dict], str]:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_discovery_lists_modality_modules_only(fake_root):
    samples.add_search_path(fake_root / "ml_service" / "samples")
    names = samples.modality_names()
    assert set(MODALITIES) <= set(names)
    assert not {"truth", "__main__", "__init__"} & set(names)
    assert samples.load_modality("fake").MODALITY == "fake"


def test_samples_cli_writes_each_set_and_goes_on_after_a_failure(fake_root, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    argv = ["--modules-path", str(fake_root), "--out", str(tmp_path / "data")]
    code = samples_main([*argv, "--modality", "badgen", "--modality", "fake"], out, err)
    assert code == 1
    assert "badgen: FAILED: RuntimeError: no encoder" in err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines == ["fake\tfake-exact\t10.0 s\t1 event(s) talk", "fake\tfake-partial\t10.0 s\t2 event(s) noise,talk",
                     "fake\tfake-clean\t3.6 s\tclean", "fake\tfake-crash\t10.0 s\t1 event(s) talk"]
    written = samples.read_truth(tmp_path / "data" / "fake" / "fake-partial.truth.json")
    assert written.recordings[0].exists() and written.checks == ["talk", "noise"]

    out, err = io.StringIO(), io.StringIO()
    assert samples_main([*argv, "--modality", "fake"], out, err) == 0
    assert "4 sample(s) reused" in err.getvalue()


def test_samples_cli_list_and_usage_errors(fake_root, capsys):
    out = io.StringIO()
    assert samples_main(["--modules-path", str(fake_root), "--list", "--modality", "fake"], out) == 0
    assert out.getvalue() == "fake\tgenerate, make_long\n"
    with pytest.raises(SystemExit) as exc:
        samples_main(["--modules-path", str(fake_root), "--out", "x", "--modality", "nope"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        samples_main(["--modules-path", str(fake_root)])  # no --out
    assert "--out is required" in capsys.readouterr().err


def test_generate_set_reuses_only_a_matching_complete_set(fake_root, tmp_path):
    samples.add_search_path(fake_root / "ml_service" / "samples")
    folder = tmp_path / "fake"
    first, reused = samples.generate_set("fake", folder, seed=1)
    assert not reused and len(first) == 4
    again, reused = samples.generate_set("fake", folder, seed=1)
    assert reused and again == first
    (folder / "stale.truth.json").write_text("{}")
    other, reused = samples.generate_set("fake", folder, seed=2)
    assert not reused and other[0].options["seed"] == 2
    assert not (folder / "stale.truth.json").exists()
    (folder / "fake-clean.wav").unlink()
    assert samples.generate_set("fake", folder, seed=2)[1] is False  # media gone: regenerated
    assert samples.generate_set("fake", folder, seed=2, force=True)[1] is False


def test_generate_set_only_filters_a_generator_without_it_and_keeps_its_own_stamp(fake_root, tmp_path):
    samples.add_search_path(fake_root / "ml_service" / "samples")
    folder = tmp_path / "fake"
    chosen, reused = samples.generate_set("fake", folder, seed=1, only=["fake-clean", "fake-exact"])
    assert not reused and [s.name for s in chosen] == ["fake-exact", "fake-clean"]  # the set's order
    assert sorted(p.name for p in folder.glob("*.truth.json")) == ["fake-clean.truth.json", "fake-exact.truth.json"]
    assert samples.generate_set("fake", folder, seed=1, only=["fake-exact", "fake-clean"]) == (chosen, True)
    assert samples.generate_set("fake", folder, seed=1)[1] is False  # the whole set is not the subset
    assert samples.generate_set("fake", folder, seed=1, only=["fake-exact"])[1] is False
    with pytest.raises(ValueError, match="no sample named fake-nope"):
        samples.generate_set("fake", folder, seed=1, only=["fake-exact", "fake-nope"])


def test_generate_set_passes_only_to_a_generator_that_takes_it(tmp_path, monkeypatch):
    calls = []

    def generate(out_dir, seed=0, only=None):
        calls.append(only)
        names = sorted(only) if only is not None else ["a", "b"]
        for name in names:
            (out_dir / f"{name}.wav").write_bytes(b"x")
        return [samples.Sample(name=n, modality="picky", recordings=[out_dir / f"{n}.wav"], duration_s=1, truth=[],
                               clean=True) for n in names]

    module = types.ModuleType("ml_service.samples.picky")
    module.generate, module.__file__ = generate, __file__
    monkeypatch.setitem(sys.modules, "ml_service.samples.picky", module)
    made, _ = samples.generate_set("picky", tmp_path / "picky", only=["b"])
    assert calls == [{"b"}] and [s.name for s in made] == ["b"]


def test_quality_prints_the_expected_figures(fake_root, tmp_path):
    args = ["--modules-path", str(fake_root), "--data", str(tmp_path / "data"), "--json"]
    for m in ("fake", "broken", "nohandler", "badgen"):
        args += ["--modality", m]
    records, stderr = _run("quality.py", *args, cwd=tmp_path)
    assert "preparing" not in stderr and "modality  check" not in stderr  # --json: no progress, no table
    assert "RuntimeError: fake crash" in stderr  # the handler's traceback is still logged
    checks = {r["check"]: r for r in records if r["record"] == "check"}
    status = {r["modality"]: r for r in records if r["record"] == "modality"}
    assert sorted(checks) == ["noise", "talk"]
    # talk: exact (IoU 1) and partial (IoU 0.75) match; a false alarm on 3.6 clean seconds;
    # the crashed sample's truth is missed.
    assert checks["talk"] == {
        "record": "check", "modality": "fake", "set": "generated", "check": "talk", "precision": 0.666667,
        "recall": 0.666667, "mean_iou": 0.875, "false_alarms_per_clean_hour": 1000.0, "n_truth": 3, "n_pred": 3,
        "n_matched": 2, "n_samples": 4, "clean_hours": 0.001,
    }
    # noise: the prediction misses the truth; the clean sample has no noise alarm.
    assert {k: checks["noise"][k] for k in ("precision", "recall", "mean_iou", "false_alarms_per_clean_hour",
                                            "n_truth", "n_pred", "n_samples")} == {
        "precision": 0.0, "recall": 0.0, "mean_iou": None, "false_alarms_per_clean_hour": 0.0,
        "n_truth": 1, "n_pred": 1, "n_samples": 2}
    assert status["fake"]["status"] == "ok" and status["fake"]["errors"] == 1 and status["fake"]["samples"] == 4
    assert status["fake"]["media_s"] == 33.6 and status["fake"]["reused"] is False
    assert status["broken"]["status"] == "handler_import_failed"
    assert "not_a_real_package_xyz" in status["broken"]["error"]
    assert status["nohandler"]["status"] == "no_handler"
    assert status["badgen"]["status"] == "generation_failed" and "no encoder" in status["badgen"]["error"]

    again, _ = _run("quality.py", *args, cwd=tmp_path)
    assert [r for r in again if r["record"] == "check"] == list(checks.values())
    assert next(r for r in again if r.get("modality") == "fake" and r["record"] == "modality")["reused"] is True


def test_quality_shows_progress_and_a_table_on_stderr(fake_root, tmp_path):
    records, stderr = _run("quality.py", "--modules-path", str(fake_root), "--data", str(tmp_path / "d"),
                           "--modality", "fake", "--modality", "broken", cwd=tmp_path)
    assert len(records) == 4
    assert "[fake 4/4] fake-crash: ERROR HandlerError: handler raised RuntimeError: fake crash" in stderr
    table = stderr[stderr.index("modality  check"):]
    assert "fake      talk   0.67       0.67    0.88      1000.0" in table
    assert "broken: handler_import_failed:" in table
    assert "fake: the handler failed on 1 of 4 sample(s)" in table


def test_quality_sample_restricts_the_set(fake_root, tmp_path):
    """--sample: just these samples of the labelled set; a modality with none of them is skipped."""
    records, _ = _run("quality.py", "--modules-path", str(fake_root), "--data", str(tmp_path / "d"), "--json",
                      "--modality", "fake", "--modality", "broken", "--sample", "fake-exact",
                      "--sample", "fake-clean", cwd=tmp_path)
    status = [r for r in records if r["record"] == "modality"]
    assert [(r["modality"], r["samples"]) for r in status] == [("fake", 2)]
    (talk,) = [r for r in records if r["record"] == "check"]
    assert (talk["check"], talk["n_samples"], talk["n_truth"], talk["n_pred"], talk["recall"]) == ("talk", 2, 1, 2, 1.0)


def test_speed_measures_each_function_in_its_own_process(fake_root, tmp_path):
    args = ["--modules-path", str(fake_root), "--data", str(tmp_path / "data"), "--modality", "fake",
            "--minutes", "0.05", "--json"]
    records, stderr = _run("speed.py", *args, cwd=tmp_path)
    assert stderr == ""
    runs = {r["function"]: r for r in records if r["record"] == "run"}
    assert list(runs) == ["decode_only", "pipeline", "naive"] and all(r["ok"] for r in runs.values())
    decode, pipeline, naive = runs["decode_only"], runs["pipeline"], runs["naive"]
    assert decode["media_s"] == 3.0 and decode["returned"] == {"samples": 24000}
    assert decode["wall_s"] >= 0.05 and decode["process_wall_s"] >= decode["wall_s"]
    assert decode["realtime_factor"] == pytest.approx(3.0 / decode["wall_s"], rel=1e-3)
    assert pipeline["returned"] == {"score": 1.0, "media": {"duration_s": 3.0}, "n_violations": 1}
    # 30 MiB in the child plus 40 MiB in its helper: the process tree's peak, each run's own
    assert pipeline["peak_rss_mb"] - decode["peak_rss_mb"] >= 60
    assert naive["peak_rss_mb"] < pipeline["peak_rss_mb"] - 60
    assert pipeline["max_process_rss_mb"] < pipeline["peak_rss_mb"]
    assert (naive["estimated_wall_s"], naive["realtime_factor"], naive["extrapolated"]) == (1.5, 2.0, True)
    ratios = records[-1]
    assert ratios["record"] == "ratios" and ratios["naive_extrapolated"] is True
    assert ratios["pipeline_over_decode_only"] == pytest.approx(pipeline["wall_s"] / decode["wall_s"], rel=1e-3)
    assert ratios["naive_over_pipeline"] == pytest.approx(1.5 / pipeline["wall_s"], rel=1e-3)

    _run("speed.py", *args, cwd=tmp_path)
    assert (tmp_path / "data" / "fake" / "long" / "make_long.calls").read_text() == "0.05\n"  # made once


def test_speed_reports_failures_timeouts_and_missing_recordings(fake_root, tmp_path):
    records, stderr = _run("speed.py", "--modules-path", str(fake_root), "--data", str(tmp_path / "data"),
                           "--modality", "lazy", "--modality", "nohandler", "--minutes", "0.05",
                           "--timeout-s", "3", cwd=tmp_path)
    runs = {r["function"]: r for r in records if r["record"] == "run"}
    assert runs["decode_only"]["ok"] is True
    assert runs["pipeline"]["ok"] is False and "RuntimeError: boom" in runs["pipeline"]["error"]
    assert runs["naive"]["ok"] is False and runs["naive"]["error"].startswith("timed out")
    ratios = next(r for r in records if r["record"] == "ratios")
    assert ratios["pipeline_over_decode_only"] is None and ratios["naive_over_pipeline"] is None
    missing = next(r for r in records if r["record"] == "modality")
    assert missing["modality"] == "nohandler" and missing["status"] == "no_recording"
    assert "pipeline / decode-only" in stderr and "nohandler 0.05 min: no_recording" in stderr
