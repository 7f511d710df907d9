"""Settings: the thesis's variable names, secrets from files, masking, and one report of all problems."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ml_service.core.config import Secret, Settings, load_environ
from ml_service.core.errors import ConfigError

XQ_PASSWORD = "xq-pass-7781"
CLIENT_SECRET = "client-secret-9f2c"
PROXY_PASSWORD = "proxy-pass-31d5"

REQUIRED = (
    "XQUEUE_URL",
    "PLATFORM_URL",
    "ML_XQUEUE_AUTH",
    "ML_XQUEUE_NAME",
    "ML_ANALYZER",
    "ML_CLIENT_ID",
    "ML_CLIENT_SECRET",
)


@pytest.fixture
def env() -> dict[str, str]:
    """The minimal environment of the thesis, plus the platform client credentials."""
    return {
        "XQUEUE_URL": "http://xqueue.example:18040/",
        "PLATFORM_URL": "https://Platform.Example/",
        "ML_XQUEUE_AUTH": f"ml_service:{XQ_PASSWORD}",
        "ML_XQUEUE_NAME": "webcam",
        "ML_ANALYZER": "handlers.debug.debug.process",
        "ML_CLIENT_ID": "webcam-worker",
        "ML_CLIENT_SECRET": CLIENT_SECRET,
    }


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    return info.value.problems


def problem_for(environ: dict[str, str], name: str) -> str:
    """The single problem reported for variable ``name``."""
    found = [p for p in problems_of(environ) if p.split(":", 1)[0] == name]
    assert len(found) == 1, found
    return found[0]


def write(path: Path, text: str) -> str:
    path.write_text(text, "utf-8")
    return str(path)


# --- the thesis's names ------------------------------------------------------------------


def test_thesis_variable_names_build_settings(env):
    s = Settings.from_env(env)
    assert s.xqueue_url == "http://xqueue.example:18040"
    assert s.platform_url == "https://Platform.Example"
    assert s.xqueue_user == "ml_service"
    assert s.xqueue_password.reveal() == XQ_PASSWORD
    assert s.queue_name == "webcam"
    assert s.analyzer == "handlers.debug.debug.process"
    assert s.client_id == "webcam-worker"
    assert s.client_secret.reveal() == CLIENT_SECRET


def test_defaults_of_optional_settings(env):
    s = Settings.from_env(env)
    assert s.token_path == "/ml/auth/token"
    assert s.events_path == "/ml/events"
    assert s.xqueue_basic_auth is None
    assert s.service_name == "ml-service-webcam"
    assert (s.http_timeout_s, s.put_result_timeout_s) == (10.0, 60.0)
    assert (s.poll_interval_s, s.poll_max_interval_s, s.backoff_max_s) == (1.0, 10.0, 60.0)
    assert (s.heartbeat_s, s.shutdown_grace_s) == (30.0, 30.0)
    assert s.media_max_bytes == 4 * 1024**3
    assert s.verify_tls is True
    assert (s.log_level, s.log_format) == ("INFO", "text")
    assert s.work_dir.is_dir()


def test_analyzer_accepts_colon_form(env):
    env["ML_ANALYZER"] = "handlers.debug.debug:process"
    assert Settings.from_env(env).analyzer == "handlers.debug.debug:process"


def test_password_may_contain_colons(env):
    env["ML_XQUEUE_AUTH"] = "ml_service:pa:ss:word"
    s = Settings.from_env(env)
    assert (s.xqueue_user, s.xqueue_password.reveal()) == ("ml_service", "pa:ss:word")


def test_values_are_stripped_and_blank_counts_as_unset(env):
    env["ML_XQUEUE_NAME"] = "  webcam \n"
    env["ML_SERVICE_NAME"] = "   "
    s = Settings.from_env(env)
    assert s.queue_name == "webcam"
    assert s.service_name == "ml-service-webcam"


def test_optional_settings_are_read(env, tmp_path):
    env.update({
        "ML_PLATFORM_TOKEN_PATH": "/api/token",
        "ML_PLATFORM_EVENTS_PATH": "/api/events",
        "ML_SERVICE_NAME": "webcam-eu-1",
        "ML_HTTP_TIMEOUT_S": "2.5",
        "ML_MEDIA_MAX_BYTES": "1000",
        "ML_WORK_DIR": str(tmp_path),
        "ML_VERIFY_TLS": "no",
        "ML_LOG_LEVEL": "debug",
        "ML_LOG_FORMAT": "JSON",
        "ML_XQUEUE_BASIC_AUTH": f"proxy:{PROXY_PASSWORD}",
    })
    s = Settings.from_env(env)
    assert (s.token_path, s.events_path, s.service_name) == ("/api/token", "/api/events", "webcam-eu-1")
    assert s.http_timeout_s == 2.5
    assert s.media_max_bytes == 1000 and isinstance(s.media_max_bytes, int)
    assert s.work_dir == tmp_path
    assert s.verify_tls is False
    assert (s.log_level, s.log_format) == ("DEBUG", "json")
    assert s.xqueue_basic_auth == ("proxy", Secret(PROXY_PASSWORD))


@pytest.mark.parametrize("raw, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True),
    ("0", False), ("false", False), ("No", False),
])
def test_booleans(env, raw, expected):
    env["ML_VERIFY_TLS"] = raw
    assert Settings.from_env(env).verify_tls is expected


def test_trailing_slashes_stripped_from_urls(env):
    env["XQUEUE_URL"] = "http://xqueue.example:18040//"
    env["PLATFORM_URL"] = "https://platform.example/base/"
    s = Settings.from_env(env)
    assert s.xqueue_url == "http://xqueue.example:18040"
    assert s.platform_url == "https://platform.example/base"


def test_settings_are_frozen(env):
    s = Settings.from_env(env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.queue_name = "audio"  # type: ignore[misc]


# --- every problem in one error ------------------------------------------------------------


def test_empty_environment_reports_every_required_variable_at_once():
    problems = problems_of({})
    named = {p.split(":", 1)[0] for p in problems}
    assert named == set(REQUIRED)
    assert len(problems) == len(REQUIRED)


def test_config_error_message_lists_every_problem(env, tmp_path):
    del env["ML_CLIENT_ID"]
    env.update({
        "ML_HTTP_TIMEOUT_S": "ten",
        "ML_VERIFY_TLS": "maybe",
        "ML_LOG_LEVEL": "verbose",
        "ML_WORK_DIR": str(tmp_path / "does-not-exist"),
        "XQUEUE_URL": "ftp://xqueue.example",
    })
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    names = ["ML_CLIENT_ID", "ML_HTTP_TIMEOUT_S", "ML_VERIFY_TLS", "ML_LOG_LEVEL", "ML_WORK_DIR", "XQUEUE_URL"]
    assert sorted(p.split(":", 1)[0] for p in info.value.problems) == sorted(names)
    for name in names:
        assert name in str(info.value)


@pytest.mark.parametrize("name, raw", [
    ("ML_HTTP_TIMEOUT_S", "abc"),
    ("ML_PUT_RESULT_TIMEOUT_S", "0"),
    ("ML_POLL_INTERVAL_S", "-1"),
    ("ML_POLL_MAX_INTERVAL_S", "nan"),
    ("ML_BACKOFF_MAX_S", "1,5"),
    ("ML_HEARTBEAT_S", "30s"),
    ("ML_SHUTDOWN_GRACE_S", "-0.5"),
    ("ML_MEDIA_MAX_BYTES", "4GB"),
])
def test_bad_numbers_are_named(env, name, raw):
    env[name] = raw
    problem = problem_for(env, name)
    assert "positive number" in problem and repr(raw) in problem


@pytest.mark.parametrize("raw", ["inf", "1e400"])
def test_infinite_media_max_bytes_is_a_config_error_not_a_crash(env, raw):
    # A float that cannot become an int must be reported like any other bad number.
    env["ML_MEDIA_MAX_BYTES"] = raw
    assert "ML_MEDIA_MAX_BYTES" in problem_for(env, "ML_MEDIA_MAX_BYTES")


@pytest.mark.parametrize("raw", ["maybe", "2", "on?"])
def test_bad_boolean_is_named(env, raw):
    env["ML_VERIFY_TLS"] = raw
    assert "true or false" in problem_for(env, "ML_VERIFY_TLS")


def test_bad_log_level_and_format_are_named(env):
    env["ML_LOG_LEVEL"] = "verbose"
    env["ML_LOG_FORMAT"] = "xml"
    problems = problems_of(env)
    assert any(p.startswith("ML_LOG_LEVEL:") and "'verbose'" in p for p in problems)
    assert any(p.startswith("ML_LOG_FORMAT:") and "'xml'" in p for p in problems)


def test_nonexistent_work_dir_is_named(env, tmp_path):
    env["ML_WORK_DIR"] = str(tmp_path / "nope")
    assert "existing directory" in problem_for(env, "ML_WORK_DIR")


def test_work_dir_that_is_a_file_is_refused(env, tmp_path):
    env["ML_WORK_DIR"] = write(tmp_path / "a-file", "x")
    assert "existing directory" in problem_for(env, "ML_WORK_DIR")


@pytest.mark.parametrize("name", ["XQUEUE_URL", "PLATFORM_URL"])
@pytest.mark.parametrize("raw", ["ftp://host.example", "localhost:18040", "http://", "file:///etc/passwd"])
def test_non_http_urls_are_refused(env, name, raw):
    env[name] = raw
    assert "http(s) URL" in problem_for(env, name)


@pytest.mark.parametrize("raw", ["process", "handlers.debug-x.process", "handlers..process", "1handlers.x"])
def test_bad_analyzer_path_is_named(env, raw):
    env["ML_ANALYZER"] = raw
    assert "dotted path" in problem_for(env, "ML_ANALYZER")


def test_endpoint_paths_must_start_with_slash(env):
    env["ML_PLATFORM_TOKEN_PATH"] = "ml/auth/token"
    assert "starting with '/'" in problem_for(env, "ML_PLATFORM_TOKEN_PATH")


@pytest.mark.parametrize("raw, hidden", [
    ("no-colon-s3cr3t", "no-colon-s3cr3t"),
    ("alice-7q:", "alice-7q"),
    (":only-s3cr3t", "only-s3cr3t"),
])
def test_xqueue_auth_must_be_user_colon_password_and_error_hides_it(env, raw, hidden):
    env["ML_XQUEUE_AUTH"] = raw
    problem = problem_for(env, "ML_XQUEUE_AUTH")
    assert "user:password" in problem
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert hidden not in str(info.value)


# --- *_FILE secrets ------------------------------------------------------------------------


def test_secrets_read_from_files(env, tmp_path):
    del env["ML_XQUEUE_AUTH"], env["ML_CLIENT_SECRET"]
    env["ML_XQUEUE_AUTH_FILE"] = write(tmp_path / "xq", f"ml_service:{XQ_PASSWORD}\n")
    env["ML_CLIENT_SECRET_FILE"] = write(tmp_path / "cs", f"{CLIENT_SECRET}\n")
    env["ML_XQUEUE_BASIC_AUTH_FILE"] = write(tmp_path / "ba", f"  proxy:{PROXY_PASSWORD}  \n")
    s = Settings.from_env(env)
    assert (s.xqueue_user, s.xqueue_password.reveal()) == ("ml_service", XQ_PASSWORD)
    assert s.client_secret.reveal() == CLIENT_SECRET
    assert s.xqueue_basic_auth is not None
    assert (s.xqueue_basic_auth[0], s.xqueue_basic_auth[1].reveal()) == ("proxy", PROXY_PASSWORD)


@pytest.mark.parametrize("name", ["ML_XQUEUE_AUTH", "ML_CLIENT_SECRET", "ML_XQUEUE_BASIC_AUTH"])
def test_direct_and_file_both_set_is_an_error(env, tmp_path, name):
    env[name] = f"someone:{PROXY_PASSWORD}"
    env[f"{name}_FILE"] = write(tmp_path / "secret", f"someone:{PROXY_PASSWORD}")
    problem = problem_for(env, name)
    assert f"{name}_FILE" in problem and "keep one" in problem


@pytest.mark.parametrize("name", ["ML_XQUEUE_AUTH", "ML_CLIENT_SECRET", "ML_XQUEUE_BASIC_AUTH"])
def test_unreadable_secret_file_is_an_error(env, tmp_path, name):
    env.pop(name, None)
    env[f"{name}_FILE"] = str(tmp_path / "missing")
    assert "cannot read" in problem_for(env, f"{name}_FILE")


def test_secret_file_that_is_a_directory_is_an_error(env, tmp_path):
    del env["ML_CLIENT_SECRET"]
    env["ML_CLIENT_SECRET_FILE"] = str(tmp_path)
    assert "cannot read" in problem_for(env, "ML_CLIENT_SECRET_FILE")


@pytest.mark.parametrize("name", ["ML_XQUEUE_AUTH", "ML_CLIENT_SECRET", "ML_XQUEUE_BASIC_AUTH"])
def test_empty_secret_file_is_an_error(env, tmp_path, name):
    env.pop(name, None)
    env[f"{name}_FILE"] = write(tmp_path / "empty", " \n\n")
    assert "empty" in problem_for(env, f"{name}_FILE")


def test_required_secret_missing_mentions_file_variant(env):
    del env["ML_CLIENT_SECRET"]
    assert "ML_CLIENT_SECRET_FILE" in problem_for(env, "ML_CLIENT_SECRET")


def test_malformed_pair_in_file_is_an_error(env, tmp_path):
    del env["ML_XQUEUE_AUTH"]
    env["ML_XQUEUE_AUTH_FILE"] = write(tmp_path / "xq", XQ_PASSWORD)
    assert "user:password" in problem_for(env, "ML_XQUEUE_AUTH")


# --- masking -------------------------------------------------------------------------------


def test_secrets_never_shown_by_repr_str_or_public_view(env):
    env["ML_XQUEUE_BASIC_AUTH"] = f"proxy:{PROXY_PASSWORD}"
    s = Settings.from_env(env)
    view = s.public_view()
    shown = [repr(s), str(s), repr(view), str(view), *view.values()]
    for secret in (XQ_PASSWORD, CLIENT_SECRET, PROXY_PASSWORD):
        for text in shown:
            assert secret not in text
    assert view["xqueue_password"] == "***"
    assert view["client_secret"] == "***"
    assert view["xqueue_basic_auth"] == "proxy:***"
    assert view["xqueue_user"] == "ml_service"


def test_public_view_is_all_text(env):
    view = Settings.from_env(env).public_view()
    assert set(view) == {f.name for f in dataclasses.fields(Settings)}
    assert all(isinstance(v, str) for v in view.values())
    assert view["media_allowed_hosts"] == "platform.example,xqueue.example"


def test_secret_masks_itself_but_compares_by_value():
    secret = Secret("hunter22")
    assert "hunter22" not in repr(secret) and "hunter22" not in str(secret)
    assert "hunter22" not in f"{secret}"
    assert secret.reveal() == "hunter22"
    assert secret == Secret("hunter22") and secret != Secret("other") and secret != "hunter22"
    assert hash(secret) == hash(Secret("hunter22"))


# --- .env files ----------------------------------------------------------------------------


def test_load_environ_merges_dotenv_under_real_environment(env, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "XQUEUE_URL=http://from-dotenv.example\n"
        "ML_XQUEUE_NAME=audio\n"
        "# a comment\n"
        "ML_LOG_LEVEL=DEBUG\n",
        "utf-8",
    )
    real = dict(env)
    del real["ML_XQUEUE_NAME"]
    merged = load_environ(real, dotenv)
    assert merged["XQUEUE_URL"] == env["XQUEUE_URL"]  # the real environment wins
    assert merged["ML_XQUEUE_NAME"] == "audio"  # the .env fills the gap
    s = Settings.from_env(merged)
    assert s.queue_name == "audio" and s.log_level == "DEBUG"
    assert s.xqueue_url == "http://xqueue.example:18040"


def test_load_environ_without_or_with_missing_file(env, tmp_path):
    assert load_environ(env, None) == env
    assert load_environ(env, tmp_path / "absent.env") == env


def test_load_environ_skips_valueless_dotenv_keys(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ML_LOG_LEVEL\nML_XQUEUE_NAME=webcam\n", "utf-8")
    assert load_environ({}, dotenv) == {"ML_XQUEUE_NAME": "webcam"}


# --- media hosts ---------------------------------------------------------------------------


def test_media_allowed_hosts_default_to_xqueue_and_platform_hosts(env):
    assert Settings.from_env(env).media_allowed_hosts == frozenset({"xqueue.example", "platform.example"})


def test_media_allowed_hosts_explicit_list(env):
    env["ML_MEDIA_ALLOWED_HOSTS"] = " Media.Example , cdn.example,, "
    assert Settings.from_env(env).media_allowed_hosts == frozenset({"media.example", "cdn.example"})


def test_public_view_shows_metrics_ports_and_masks_basic_auth(env):
    env["ML_METRICS_PORT"] = "9450-9459"
    env["ML_XQUEUE_BASIC_AUTH"] = "proxy:proxy-pass-9"
    view = Settings.from_env(env).public_view()
    assert view["metrics_ports"] == "9450-9459" and view["xqueue_basic_auth"] == "proxy:***"
    env["ML_METRICS_PORT"] = "0"
    assert Settings.from_env(env).public_view()["metrics_ports"] == "off"


@pytest.mark.parametrize("queue, expected", [("webcam", 14400.0), ("audio", 9000.0), ("custom", 14400.0)])
def test_media_max_duration_defaults_by_queue_and_is_read(env, queue, expected):
    assert Settings.from_env({**env, "ML_XQUEUE_NAME": queue}).media_max_duration_s == expected
    assert Settings.from_env({**env, "ML_MEDIA_MAX_DURATION_S": "600"}).media_max_duration_s == 600.0
    assert "ML_MEDIA_MAX_DURATION_S" in problem_for({**env, "ML_MEDIA_MAX_DURATION_S": "ten hours"},
                                                    "ML_MEDIA_MAX_DURATION_S")
