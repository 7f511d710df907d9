"""Metrics and health: counting, the /healthz rule, the HTTP server, ports and the health check."""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ml_service.core import metrics
from ml_service.core.metrics import Metrics


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def m(clock: Clock) -> Metrics:
    made = Metrics(CollectorRegistry(), clock=clock, wall=lambda: 1_800_000_000.0)
    made.stale_after_s, made.busy_limit_s = 60.0, 600.0
    return made


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Port files go to the test's own folder, never next to a real worker's."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


# -- counting ---------------------------------------------------------------------------------
def test_answers_are_counted_by_error_code_and_failures_apart(m: Metrics) -> None:
    m.answer(0, 12.5, "webcam")
    m.answer(0, 3.0, "webcam")
    m.answer(3, 0.2, "webcam")
    assert value(m, "ml_service_submissions_answered_total", modality="webcam", error_code="0") == 2
    assert value(m, "ml_service_submissions_answered_total", modality="webcam", error_code="3") == 1
    assert value(m, "ml_service_submissions_failed_total", modality="webcam", error_code="3") == 1
    assert value(m, "ml_service_submissions_failed_total", modality="webcam", error_code="0") is None
    assert value(m, "ml_service_processing_seconds_count", modality="webcam") == 3
    assert value(m, "ml_service_processing_seconds_sum", modality="webcam") == pytest.approx(15.7)
    assert value(m, "ml_service_processing_seconds_bucket", modality="webcam", le="5.0") == 2


def test_polls_set_the_timestamp_or_count_an_error(m: Metrics) -> None:
    m.poll("audio", ok=True)
    m.poll("audio", ok=False)
    assert value(m, "ml_service_last_successful_poll_timestamp_seconds", modality="audio") == 1_800_000_000.0
    assert value(m, "ml_service_poll_errors_total", modality="audio") == 1


def test_busy_gauge_follows_the_job(m: Metrics) -> None:
    m.job("debug", running=True)
    assert value(m, "ml_service_busy", modality="debug") == 1
    m.job("debug", running=False)
    assert value(m, "ml_service_busy", modality="debug") == 0


def test_module_functions_count_on_the_default_registry() -> None:
    reg = metrics.default().registry

    def read(name: str, **labels: str) -> float:
        return reg.get_sample_value(name, {"modality": "unit-test", **labels}) or 0.0

    before = {name: read(name) for name in ("ml_service_submissions_pulled_total", "ml_service_lease_lost_total")}
    metrics.pulled("unit-test")
    metrics.lease_lost("unit-test")
    metrics.unanswered("handed_back", "unit-test")
    metrics.queue_length(7, "unit-test")
    metrics.answered(2, 1.0, "unit-test")
    metrics.job_started("unit-test")
    metrics.job_finished("unit-test")
    metrics.poll_ok("unit-test")
    metrics.poll_failed("unit-test")
    assert read("ml_service_submissions_pulled_total") == before["ml_service_submissions_pulled_total"] + 1
    assert read("ml_service_lease_lost_total") == before["ml_service_lease_lost_total"] + 1
    assert read("ml_service_submissions_unanswered_total", reason="handed_back") >= 1
    assert read("ml_service_queue_length") == 7
    assert read("ml_service_submissions_failed_total", error_code="2") >= 1
    assert metrics.default() is metrics.default()


# -- the health rule ----------------------------------------------------------------------------
def test_healthy_at_start_then_stale_without_polls(m: Metrics, clock: Clock) -> None:
    assert m.health()[0]
    clock.now += 61
    ok, body = m.health()
    assert not ok and body["status"] == "stale" and body["since_successful_poll_s"] is None


def test_a_failed_poll_still_shows_the_loop_alive(m: Metrics, clock: Clock) -> None:
    m.poll("debug", ok=True)
    clock.now += 50
    m.poll("debug", ok=False)
    clock.now += 50
    ok, body = m.health()
    assert ok
    assert body["since_poll_attempt_s"] == 50 and body["since_successful_poll_s"] == 100


def test_a_running_job_is_healthy_until_the_busy_limit(m: Metrics, clock: Clock) -> None:
    m.poll("debug", ok=True)
    m.job("debug", running=True)
    clock.now += 599
    assert m.health()[0] and m.health()[1]["busy_for_s"] == 599
    clock.now += 2
    assert not m.health()[0]
    m.job("debug", running=False)
    m.poll("debug", ok=True)
    assert m.health()[0]


def test_health_windows_from_the_default_settings() -> None:
    settings = SimpleNamespace(http_timeout_s=10.0, put_result_timeout_s=60.0, poll_max_interval_s=10.0,
                               backoff_max_s=60.0, handler_timeout_s=600.0, media_timeout_s=30.0,
                               media_deadline_s=900.0)
    stale, busy = metrics.health_windows(settings)
    assert stale == 60 + 60 + 40 + 30
    assert busy == 1200 + 900 + 180 + 60 + 60


# -- ports ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "ports"), [
    ("9400", (9400,)), (" 9401-9403 ", (9401, 9402, 9403)), ("0", ()), ("65535", (65535,)),
])
def test_port_specs(text: str, ports: tuple[int, ...]) -> None:
    assert metrics.parse_ports(text) == ports


@pytest.mark.parametrize("text", ["", "abc", "9400-", "0-5", "9403-9401", "70000", "-1"])
def test_bad_port_specs_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        metrics.parse_ports(text)


# -- the server -----------------------------------------------------------------------------------
def test_serves_metrics_and_health(m: Metrics, clock: Clock) -> None:
    server = metrics.serve([0], "127.0.0.1", queue="debug", stale_after_s=30, busy_limit_s=90, metrics=m)
    try:
        base = f"http://127.0.0.1:{server.port}"
        m.answer(0, 2.0, "debug")
        status, ctype, text = get(f"{base}/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert 'ml_service_submissions_answered_total{error_code="0",modality="debug"} 1.0' in text
        status, ctype, text = get(f"{base}/healthz")
        assert (status, ctype) == (200, "application/json") and json.loads(text)["stale_after_s"] == 30
        clock.now += 31
        status, _, text = get(f"{base}/healthz")
        assert status == 503 and json.loads(text)["status"] == "stale"
        assert get(f"{base}/other")[0] == 404
    finally:
        server.stop()


def test_a_busy_port_moves_to_the_next_in_the_range(m: Metrics) -> None:
    first = metrics.serve([0], "127.0.0.1", queue="a", metrics=m)
    try:
        second = metrics.serve([first.port, 0], "127.0.0.1", queue="b", metrics=m)
        assert second.port != first.port
        second.stop()
        with pytest.raises(OSError, match=f"port.*{first.port}"):
            metrics.serve([first.port], "127.0.0.1", queue="c", metrics=m)
    finally:
        first.stop()


# -- the container health check -------------------------------------------------------------------
def test_check_finds_the_served_port_through_the_port_file(m: Metrics, clock: Clock,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    server = metrics.serve([0], "0.0.0.0", queue="webcam", stale_after_s=30, metrics=m)
    try:
        env = {"ML_XQUEUE_NAME": "webcam", "ML_METRICS_PORT": "1-2"}  # the file wins over the range
        assert metrics.check(env) == 0
        assert '"status": "ok"' in capsys.readouterr().out
        clock.now += 31
        assert metrics.check(env) == 1
        assert "HTTP 503" in capsys.readouterr().out
    finally:
        server.stop()
    assert not metrics.port_file("webcam").exists()


def test_check_without_a_server_fails_and_with_metrics_off_passes(capsys: pytest.CaptureFixture[str]) -> None:
    free = metrics.serve([0], "127.0.0.1", queue="probe", metrics=Metrics(CollectorRegistry()))
    port = free.port
    free.stop()
    assert metrics.check({"ML_XQUEUE_NAME": "debug", "ML_METRICS_PORT": str(port)}) == 1
    assert metrics.check({"ML_METRICS_PORT": "0"}) == 0
    assert "metrics are off" in capsys.readouterr().out
    assert metrics.check({"ML_METRICS_PORT": "nope"}) == 1


def test_main_takes_only_check() -> None:
    assert metrics.main([]) == 2
    assert metrics.main(["--check", "x"]) == 2
