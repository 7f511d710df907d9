"""Secrets stay out of every log line: the redacting filter and the CLI's logging set-up."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from ml_service.core.logs import RedactingFilter, configure_logging

SECRET = "cl1ent-s3cret-8d1f"
PASSWORD = "xq-pa55word-42"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZWJjYW0ifQ.kq3tZ_8mT0p-Q1x9Yv2"


@pytest.fixture
def captured():
    """A fresh non-propagating logger whose only handler writes through a RedactingFilter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([SECRET, PASSWORD]))
    logger = logging.getLogger(f"test_logs.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.fixture
def restore_root_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             logging.getLogger("urllib3").level, logging.getLogger("werkzeug").level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("urllib3").setLevel(saved[2])
    logging.getLogger("werkzeug").setLevel(saved[3])


# --- RedactingFilter.redact ----------------------------------------------------------------


@pytest.mark.parametrize("text, gone, kept", [
    (f"login with {PASSWORD} failed", PASSWORD, "login with *** failed"),
    (f"secret is {SECRET}!", SECRET, "secret is ***!"),
    ("Authorization: Bearer abc.DEF-123_x~+/=", "abc.DEF-123_x", "Bearer ***"),
    ("header authorization=bearer tok3nvalue", "tok3nvalue", "bearer ***"),
    (f"got token {JWT} back", "kq3tZ_8mT0p", "got token *** back"),
    ("POST password=hunter22&user=bob", "hunter22", "password=***&user=bob"),
    ('{"password": "hunter22", "user": "bob"}', "hunter22", '"password": "***"'),
    ("client_secret=abc123xyz; next", "abc123xyz", "client_secret=***; next"),
    ("cookie sessionid=9f8e7d6c5b4a", "9f8e7d6c5b4a", "sessionid=***"),
    ("access_token: q1w2e3r4", "q1w2e3r4", "access_token: ***"),
])
def test_redact_masks(text, gone, kept):
    out = RedactingFilter([SECRET, PASSWORD]).redact(text)
    assert gone not in out
    assert kept in out


def test_longer_secret_masked_before_its_prefix():
    out = RedactingFilter(["abcd", "abcdefgh"]).redact("value abcdefgh end")
    assert out == "value *** end"


def test_empty_and_tiny_secrets_do_not_mask_everything():
    f = RedactingFilter(["", "a"])
    assert f.redact("a normal message") == "a normal message"


def test_plain_text_is_left_alone():
    text = "Pulled submission 17 from queue webcam in 0.25 s"
    assert RedactingFilter([SECRET]).redact(text) == text


# --- through a real logger -----------------------------------------------------------------


def test_secret_in_args_formatted_message(captured):
    logger, stream = captured
    logger.info("logging in as %s with %s (client secret %r)", "ml_service", PASSWORD, SECRET)
    out = stream.getvalue()
    assert PASSWORD not in out and SECRET not in out
    assert out.startswith("INFO logging in as ml_service with *** (client secret '***')")


def test_secret_in_dict_arg(captured):
    logger, stream = captured
    logger.warning("payload %s", {"client_id": "webcam", "client_secret": SECRET})
    assert SECRET not in stream.getvalue()
    assert "'client_id': 'webcam'" in stream.getvalue()


def test_bearer_and_jwt_logged_by_anyone_are_masked(captured):
    logger, stream = captured
    logger.debug("sending headers %s", {"Authorization": f"Bearer {JWT}"})
    logger.debug("token was %s", JWT)
    out = stream.getvalue()
    assert JWT not in out and "eyJzdWIiOiJ3ZWJjYW0ifQ" not in out
    assert out.count("***") >= 2


def test_secret_in_exception_traceback_is_masked(captured):
    logger, stream = captured
    try:
        raise RuntimeError(f"login refused for password={PASSWORD} secret {SECRET} jwt {JWT}")
    except RuntimeError:
        logger.exception("XQueue login failed using %s", PASSWORD)
    out = stream.getvalue()
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: login refused for password=***" in out
    assert PASSWORD not in out and SECRET not in out and JWT not in out


def test_chained_exception_traceback_is_masked(captured):
    logger, stream = captured
    try:
        try:
            raise ValueError(f"inner has {SECRET}")
        except ValueError as exc:
            raise KeyError(f"outer has {PASSWORD}") from exc
    except KeyError:
        logger.error("failed", exc_info=True)
    out = stream.getvalue()
    assert "ValueError" in out and "KeyError" in out
    assert SECRET not in out and PASSWORD not in out


def test_malformed_log_call_does_not_raise_to_the_caller(captured):
    # Without the filter, logging reports a bad format string on stderr ("--- Logging error ---")
    # and carries on; a redacting filter must not turn a logging mistake into a crash of the caller.
    logger, _ = captured
    logger.warning("value %s and %s", "only-one")


# --- configure_logging ---------------------------------------------------------------------


@pytest.mark.usefixtures("restore_root_logging")
def test_configure_logging_text_line_never_contains_the_secret(capsys):
    configure_logging("INFO", "text", [SECRET, PASSWORD])
    log = logging.getLogger("ml_service.test_logs")
    log.info("platform login with client_id=%s secret=%s", "webcam", SECRET)
    log.warning("xqueue password %s rejected", PASSWORD)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert " INFO ml_service.test_logs: platform login with client_id=webcam secret=***" in lines[0]
    assert " WARNING ml_service.test_logs: xqueue password *** rejected" in lines[1]
    assert SECRET not in err and PASSWORD not in err


@pytest.mark.usefixtures("restore_root_logging")
def test_configure_logging_masks_tracebacks(capsys):
    configure_logging("DEBUG", "text", [SECRET])
    try:
        raise ConnectionError(f"token endpoint said no to {SECRET}")
    except ConnectionError:
        logging.getLogger("ml_service.core.platform").exception("token request failed")
    err = capsys.readouterr().err
    assert "ConnectionError: token endpoint said no to ***" in err
    assert SECRET not in err


@pytest.mark.usefixtures("restore_root_logging")
def test_configure_logging_json_lines_parse(capsys):
    configure_logging("DEBUG", "json", [SECRET])
    log = logging.getLogger("ml_service.core.worker")
    log.debug("polling %s", "webcam")
    log.info('quote " and\nnewline with secret %s', SECRET)
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError:
        log.exception("job failed")
    err = capsys.readouterr().err
    assert SECRET not in err
    entries = [json.loads(line) for line in err.strip().splitlines()]
    assert len(entries) == 3
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert entry["logger"] == "ml_service.core.worker"
    assert [e["level"] for e in entries] == ["DEBUG", "INFO", "ERROR"]
    assert entries[0]["message"] == "polling webcam"
    assert entries[1]["message"] == 'quote " and\nnewline with secret ***'
    assert "exception" not in entries[0]
    assert "ValueError: bad ***" in entries[2]["exception"]


@pytest.mark.usefixtures("restore_root_logging")
def test_configure_logging_level_and_single_handler(capsys):
    configure_logging("WARNING", "text", [])
    configure_logging("WARNING", "text", [])  # calling twice does not double the lines
    root = logging.getLogger()
    assert len(root.handlers) == 1 and root.level == logging.WARNING
    assert logging.getLogger("urllib3").level == logging.WARNING
    logging.getLogger("ml_service.x").info("hidden")
    logging.getLogger("ml_service.x").warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert err.count("shown") == 1


def test_presigned_url_signatures_are_masked():
    text = RedactingFilter().redact("GET https://s3/b/k?X-Amz-Credential=AKIA1/x&X-Amz-Signature=deadbeef&a=1")
    assert "deadbeef" not in text and "AKIA1" not in text and "a=1" in text


def test_a_huge_value_is_logged_as_a_bounded_line(captured):
    logger, stream = captured
    logger.warning("body was %s", "Z" * 1_000_000)
    try:
        raise ValueError("Q" * 1_000_000)
    except ValueError:
        logger.exception("handler failed")
    text = stream.getvalue()
    assert 3_000 < len(text) < 30_000
    assert "more characters cut" in text
