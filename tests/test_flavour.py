"""Which XQueue server, and the score it stores: detection, score modes, settings."""

from __future__ import annotations

import pytest

from ml_service.core.config import Settings
from ml_service.core.errors import ConfigError
from ml_service.core.flavour import Flavour, ScorePolicy, detect, lease_s
OK = {"error_code": 0, "score": 0.69}


@pytest.fixture
def env() -> dict[str, str]:
    return {"XQUEUE_URL": "http://xqueue.example:18040", "PLATFORM_URL": "http://platform.example",
            "ML_XQUEUE_AUTH": "ml_service:pw-1", "ML_XQUEUE_NAME": "webcam",
            "ML_ANALYZER": "handlers.debug.debug.process", "ML_CLIENT_ID": "c", "ML_CLIENT_SECRET": "s"}


@pytest.mark.parametrize("code, content, expected", [
    (1, "login_required", Flavour.XQUEUE),  # openedx/xqueue's GET /xqueue/login/
    (0, "", Flavour.EDX),  # edx-submissions' GET /xqueue/login/ (it sets the CSRF cookie)
    (0, None, Flavour.EDX),
    (1, "Incorrect login credentials", None),
    (0, "Logged in", None),
])
def test_detect_from_the_login_page(code, content, expected):
    assert detect(code, content) is expected


@pytest.mark.parametrize("mode, flavour, expected", [
    ("auto", Flavour.XQUEUE, 0.69),
    ("auto", Flavour.EDX, 1),
    ("fraction", Flavour.EDX, 0.69),
    ("pass", Flavour.XQUEUE, 1),
    ("points", Flavour.EDX, 69),
])
def test_wire_score_per_mode_and_flavour(mode, flavour, expected):
    score = ScorePolicy(mode).wire_score(OK, flavour)
    assert score == expected and type(score) is type(expected)


def test_pass_threshold_and_max_points():
    assert ScorePolicy("pass", pass_score=0.7).wire_score(OK, Flavour.EDX) == 0
    assert ScorePolicy("pass", pass_score=0.69).wire_score(OK, Flavour.EDX) == 1
    assert ScorePolicy("points", max_points=10).wire_score(OK, Flavour.EDX) == 7


@pytest.mark.parametrize("mode", ["auto", "fraction", "pass", "points"])
def test_error_results_send_zero(mode):
    assert ScorePolicy(mode).wire_score({"error_code": 4, "score": 0.0}, Flavour.EDX) == 0


def test_lease_defaults_per_flavour():
    assert (lease_s(Flavour.XQUEUE), lease_s(Flavour.EDX), lease_s(Flavour.EDX, 90.0)) == (60.0, 300.0, 90.0)


def test_settings_default_to_auto(env):
    settings = Settings.from_env(env)
    assert settings.xqueue_flavour is None and settings.xqueue_lease_s is None
    assert settings.score_policy == ScorePolicy("auto", 0.5, 100)
    view = settings.public_view()
    assert view["xqueue_flavour"] == "auto" and view["xqueue_lease_s"] == "per flavour"


def test_settings_read_every_server_variable(env):
    env.update(ML_XQUEUE_FLAVOUR="edx-submissions", ML_XQUEUE_SCORE="points", ML_XQUEUE_PASS_SCORE="0.8",
               ML_XQUEUE_MAX_POINTS="10", ML_XQUEUE_LEASE_S="120")
    settings = Settings.from_env(env)
    assert settings.xqueue_flavour is Flavour.EDX and settings.xqueue_lease_s == 120.0
    assert settings.score_policy == ScorePolicy("points", 0.8, 10)


@pytest.mark.parametrize("name, raw", [
    ("ML_XQUEUE_FLAVOUR", "edx"), ("ML_XQUEUE_SCORE", "percent"), ("ML_XQUEUE_PASS_SCORE", "1.5"),
    ("ML_XQUEUE_PASS_SCORE", "0"), ("ML_XQUEUE_MAX_POINTS", "2.5"), ("ML_XQUEUE_LEASE_S", "-1"),
])
def test_bad_server_variables_are_named(env, name, raw):
    env[name] = raw
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert any(p.startswith(f"{name}:") for p in info.value.problems), info.value.problems
