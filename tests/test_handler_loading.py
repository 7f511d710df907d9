"""Loading ML_ANALYZER handlers by dotted path, and enforcing the (result, msg) contract."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Callable

import pytest

from ml_service.core.errors import HandlerError, HandlerLoadError, Retry
from ml_service.core.handlers import load_handler, run_handler, split_dotted
from ml_service.core.results import ErrorCode, build_result

GOOD_HANDLER = """
def process(submission):
    return ({"echo": submission["session_id"]}, "ok")

not_callable = 42
"""


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch) -> Callable[..., str]:
    """Write a uniquely named module (optionally inside a package) and return its dotted name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def make(source: str, package: bool = False) -> str:
        top = f"mlsvc_test_{uuid.uuid4().hex[:12]}"
        names.append(top)
        if package:
            pkg = tmp_path / top / "sub"
            pkg.mkdir(parents=True)
            (tmp_path / top / "__init__.py").write_text("", "utf-8")
            (pkg / "__init__.py").write_text("", "utf-8")
            (pkg / "handler.py").write_text(textwrap.dedent(source), "utf-8")
            dotted = f"{top}.sub.handler"
        else:
            (tmp_path / f"{top}.py").write_text(textwrap.dedent(source), "utf-8")
            dotted = top
        importlib.invalidate_caches()
        return dotted

    yield make
    for mod in list(sys.modules):
        if any(mod == n or mod.startswith(n + ".") for n in names):
            del sys.modules[mod]


def load_error(path: str) -> str:
    with pytest.raises(HandlerLoadError) as info:
        load_handler(path)
    return str(info.value)


# --- split_dotted --------------------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    ("handlers.debug.debug.process", ("handlers.debug.debug", "process")),
    ("handlers.debug.debug:process", ("handlers.debug.debug", "process")),
    ("mod.func", ("mod", "func")),
    ("mod:func", ("mod", "func")),
])
def test_split_dotted(path, expected):
    assert split_dotted(path) == expected


@pytest.mark.parametrize("path", ["process", "", ".process", "mod.", ":process", "mod:", ":"])
def test_bad_dotted_path(path):
    with pytest.raises(HandlerLoadError) as info:
        split_dotted(path)
    assert "dotted path" in str(info.value)
    assert "dotted path" in load_error(path)


# --- load_handler --------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [".", ":"])
def test_loads_function_from_top_level_module(make_module, sep):
    mod = make_module(GOOD_HANDLER)
    func = load_handler(f"{mod}{sep}process")
    assert func({"session_id": "s1"}) == ({"echo": "s1"}, "ok")


@pytest.mark.parametrize("sep", [".", ":"])
def test_loads_function_from_nested_package(make_module, sep):
    mod = make_module(GOOD_HANDLER, package=True)
    assert mod.count(".") == 2
    func = load_handler(f"{mod}{sep}process")
    assert func({"session_id": "s2"}) == ({"echo": "s2"}, "ok")


def test_module_not_found(make_module):
    missing = f"mlsvc_absent_{uuid.uuid4().hex[:12]}"
    message = load_error(f"{missing}.process")
    assert "not found" in message and missing in message
    assert "not installed" not in message


def test_submodule_not_found_in_existing_package(make_module):
    mod = make_module(GOOD_HANDLER, package=True)
    pkg = mod.rsplit(".", 1)[0]
    message = load_error(f"{pkg}.nope.process")
    assert "not found" in message and f"{pkg}.nope" in message


def test_module_needing_missing_package_says_not_installed(make_module):
    mod = make_module("""
        import package_that_does_not_exist_xyz

        def process(submission):
            return {}, ""
    """)
    message = load_error(f"{mod}.process")
    assert "package_that_does_not_exist_xyz" in message
    assert "not installed" in message
    assert "not found" not in message


def test_nested_module_needing_missing_package_says_not_installed(make_module):
    mod = make_module("from package_that_does_not_exist_xyz.sub import thing\n", package=True)
    message = load_error(f"{mod}:process")
    assert "package_that_does_not_exist_xyz" in message and "not installed" in message


def test_module_raising_at_import_names_exception_type(make_module):
    mod = make_module('raise ValueError("model weights missing: /models/face.onnx")\n')
    message = load_error(f"{mod}.process")
    assert "failed to import" in message
    assert "ValueError" in message and "model weights missing" in message


def test_module_with_syntax_error(make_module):
    mod = make_module("def process(submission)\n    return {}, ''\n")
    message = load_error(f"{mod}.process")
    assert "SyntaxError" in message


def test_load_error_keeps_the_cause(make_module):
    mod = make_module("raise RuntimeError('boom')\n")
    with pytest.raises(HandlerLoadError) as info:
        load_handler(f"{mod}.process")
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize("sep", [".", ":"])
def test_missing_attribute(make_module, sep):
    mod = make_module(GOOD_HANDLER)
    message = load_error(f"{mod}{sep}analyse")
    assert "has no attribute 'analyse'" in message and mod in message


def test_non_callable_attribute(make_module):
    mod = make_module(GOOD_HANDLER)
    message = load_error(f"{mod}:not_callable")
    assert "not a function" in message and "int" in message


def test_callable_object_is_accepted(make_module):
    mod = make_module("""
        class Analyzer:
            def __call__(self, submission):
                return {}, "called"

        process = Analyzer()
    """)
    assert load_handler(f"{mod}.process")({})[1] == "called"


# --- run_handler ---------------------------------------------------------------------------


SUBMISSION = {"submission_id": 17, "session_id": "exam42-student7", "modality": "webcam", "options": {},
              "recordings": [], "reference_photo": None, "reference_voice": None, "work_dir": "/tmp/job-17"}


def valid_result() -> dict:
    return build_result("webcam", [{"type": "face_absent", "start_s": 1, "end_s": 4, "confidence": 0.9}],
                        {"duration_s": 60.0}, 0.2)


def handler_error(returned=None, raises: BaseException | None = None) -> HandlerError:
    def handler(submission):
        if raises is not None:
            raise raises
        return returned

    with pytest.raises(HandlerError) as info:
        run_handler(handler, dict(SUBMISSION))
    return info.value


def test_valid_result_passes_through():
    result, seen = valid_result(), []

    def handler(submission):
        seen.append(submission)
        return result, "1 suspected violation"

    assert run_handler(handler, SUBMISSION) == (result, "1 suspected violation")
    assert seen == [SUBMISSION]


def test_handler_raising_becomes_handler_raised():
    err = handler_error(raises=ZeroDivisionError("division by zero in frame 12"))
    assert err.error_code == ErrorCode.HANDLER_RAISED
    assert "ZeroDivisionError" in str(err) and "frame 12" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)


def test_handler_raising_is_logged(caplog):
    handler_error(raises=RuntimeError("kaput"))
    records = [r for r in caplog.records if r.name == "ml_service.core.handlers"]
    assert records and records[-1].exc_info is not None
    assert "17" in records[-1].getMessage()


@pytest.mark.parametrize("returned", [None, {"score": 1.0}, [{}, "msg"], "result", ({},), ({}, "a", "b")])
def test_non_pair_returns_are_invalid(returned):
    err = handler_error(returned)
    assert err.error_code == ErrorCode.INVALID_RESULT
    assert "expected a (result, msg) tuple" in str(err)


@pytest.mark.parametrize("returned, shown", [
    (([], "msg"), "(list, str)"),
    (("result", "msg"), "(str, str)"),
    ((valid_result(), 3), "(dict, int)"),
    ((valid_result(), None), "(dict, NoneType)"),
])
def test_wrongly_typed_pair_is_invalid(returned, shown):
    err = handler_error(returned)
    assert err.error_code == ErrorCode.INVALID_RESULT
    assert shown in str(err) and "expected (dict, str)" in str(err)


def test_schema_breaking_result_is_invalid_with_the_problem():
    broken = valid_result()
    broken["violations"][0]["confidence"] = 1.5
    err = handler_error((broken, "msg"))
    assert err.error_code == ErrorCode.INVALID_RESULT
    assert "breaks the schema" in str(err)
    assert "violations/0/confidence" in str(err) and "1.5" in str(err)


def test_result_missing_keys_is_invalid():
    err = handler_error(({"score": 0.5}, "msg"))
    assert err.error_code == ErrorCode.INVALID_RESULT
    assert "'schema' is a required property" in str(err)


def test_reversed_interval_is_invalid():
    broken = valid_result()
    broken["violations"][0].update(start_s=10, end_s=2)
    err = handler_error((broken, "msg"))
    assert err.error_code == ErrorCode.INVALID_RESULT
    assert "end_s 2 is before start_s 10" in str(err)


def test_retry_propagates_untouched():
    def handler(submission):
        raise Retry("GPU busy", delay_s=12.5)

    with pytest.raises(Retry) as info:
        run_handler(handler, SUBMISSION)
    assert info.value.delay_s == 12.5 and str(info.value) == "GPU busy"
    assert not isinstance(info.value, HandlerError)
