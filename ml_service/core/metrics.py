"""Prometheus metrics and the health endpoint of one worker.

The worker reports what happens through plain functions (:func:`pulled`, :func:`answered`,
:func:`lease_lost`, :func:`poll_ok`, ...); they only count, so they cost next to nothing and
work whether or not anything serves them. :func:`serve` exposes, from a daemon thread:

- ``/metrics``: the Prometheus text format;
- ``/healthz``: 200 while the loop is alive, 503 otherwise, with a JSON body either way.
  Alive means it tried a poll within ``stale_after_s`` (a poll that failed because XQueue is
  down counts: restarting the worker would not help, and the last-successful-poll gauge is
  there to alert on), or a job has been running for less than ``busy_limit_s`` (no polls
  happen during a job). :func:`health_windows` derives both from the worker's settings.

Metrics, each with the label ``modality`` (the queue the worker serves)::

    ml_service_submissions_pulled_total
    ml_service_submissions_answered_total{error_code}   results XQueue accepted (0 = success)
    ml_service_submissions_failed_total{error_code}     the answered ones with error_code != 0
    ml_service_submissions_unanswered_total{reason}     handed_back | refused | deferred | unanswerable
    ml_service_lease_lost_total
    ml_service_answers_not_stored_total                 answers XQueue accepted, then offered again
    ml_service_processing_seconds                       histogram of answered jobs
    ml_service_queue_length                             XQueue's get_queuelen
    ml_service_last_successful_poll_timestamp_seconds   unix time
    ml_service_poll_errors_total
    ml_service_busy                                     1 while a job runs

plus prometheus-client's ``process_*``, ``python_*`` and ``python_gc_*`` series.
``python -m ml_service.core.metrics --check`` is the container HEALTHCHECK.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = [
    "Metrics", "MetricsServer", "answered", "check", "default", "health_windows", "job_finished", "job_started",
    "lease_lost", "not_stored", "parse_ports", "poll_failed", "poll_ok", "port_file", "pulled", "queue_length", "serve",
    "unanswered",
]

logger = logging.getLogger(__name__)

BUCKETS_S = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
DEFAULT_PORT = 9400


class Metrics:
    """The metric objects of one registry, and the loop's health state."""

    def __init__(self, registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock, self.wall = clock, wall
        self.stale_after_s, self.busy_limit_s = 300.0, 1800.0
        self._lock = threading.Lock()
        self._started = clock()
        self._last_attempt: float | None = None
        self._last_success: float | None = None
        self._busy_since: float | None = None
        self._make_series()

    def _make_series(self) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(f"ml_service_{name}", doc, ["modality", *labels], registry=self.registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(f"ml_service_{name}", doc, ["modality"], registry=self.registry)

        self.pulled = counter("submissions_pulled", "Submissions pulled from XQueue")
        self.answered = counter("submissions_answered", "Results accepted by XQueue, by error code", "error_code")
        self.failed = counter("submissions_failed", "Answered with an error result, by error code", "error_code")
        self.unanswered = counter("submissions_unanswered", "Pulled but not answered now, by reason", "reason")
        self.lease_lost = counter("lease_lost", "Results refused because XQueue re-offered the submission")
        self.not_stored = counter("answers_not_stored", "Answers XQueue accepted but did not keep (offered again)")
        self.poll_errors = counter("poll_errors", "Polls of XQueue that failed")
        self.seconds = Histogram("ml_service_processing_seconds", "Processing time of answered submissions",
                                 ["modality"], buckets=BUCKETS_S, registry=self.registry)
        self.queue_length = gauge("queue_length", "Submissions waiting in the queue (get_queuelen)")
        self.last_poll = gauge("last_successful_poll_timestamp_seconds", "Unix time of the last successful poll")
        self.busy = gauge("busy", "1 while a job runs")

    # -- events reported by the worker ---------------------------------------------------
    def poll(self, modality: str, ok: bool) -> None:
        now = self.clock()
        with self._lock:
            self._last_attempt = now
            if ok:
                self._last_success = now
        if ok:
            self.last_poll.labels(modality).set(self.wall())
        else:
            self.poll_errors.labels(modality).inc()

    def job(self, modality: str, running: bool) -> None:
        with self._lock:
            self._busy_since = self.clock() if running else None
        self.busy.labels(modality).set(1 if running else 0)

    def answer(self, error_code: int, seconds: float, modality: str) -> None:
        code = str(int(error_code))
        self.answered.labels(modality, code).inc()
        if code != "0":
            self.failed.labels(modality, code).inc()
        self.seconds.labels(modality).observe(max(0.0, float(seconds)))

    # -- health ---------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the loop is alive, and the figures that say so."""
        now = self.clock()
        with self._lock:
            attempt, success, busy = self._last_attempt, self._last_success, self._busy_since
        since_attempt = now - (attempt if attempt is not None else self._started)
        if busy is not None:
            ok = now - busy <= self.busy_limit_s
        else:
            ok = since_attempt <= self.stale_after_s
        return ok, {
            "status": "ok" if ok else "stale",
            "busy_for_s": None if busy is None else round(now - busy, 3),
            "since_poll_attempt_s": round(since_attempt, 3),
            "since_successful_poll_s": None if success is None else round(now - success, 3),
            "stale_after_s": self.stale_after_s,
            "busy_limit_s": self.busy_limit_s,
        }


_default: Metrics | None = None
_default_lock = threading.Lock()


def default() -> Metrics:
    """The process-wide metrics (made on first use, with the process and Python collectors)."""
    global _default
    with _default_lock:
        if _default is None:
            disable_created_metrics()  # no *_created series: they double the output for nothing here
            registry = CollectorRegistry()
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
            _default = Metrics(registry)
        return _default


# -- the functions the worker calls -----------------------------------------------------
def pulled(modality: str) -> None:
    """A submission was pulled from XQueue."""
    default().pulled.labels(modality).inc()


def job_started(modality: str) -> None:
    """A job (pulled, or recovered from the journal) starts: no polls until it ends."""
    default().job(modality, running=True)


def job_finished(modality: str) -> None:
    """The job ended, however it ended."""
    default().job(modality, running=False)


def answered(error_code: int, seconds: float, modality: str) -> None:
    """XQueue accepted a result with this ``error_code``; the job took ``seconds``."""
    default().answer(error_code, seconds, modality)


def unanswered(reason: str, modality: str) -> None:
    """A pulled submission got no answer now: ``handed_back``, ``refused``, ``deferred`` or
    ``unanswerable`` (no usable id or key; counted once per submission)."""
    default().unanswered.labels(modality, reason).inc()


def lease_lost(modality: str) -> None:
    """put_result said "Incorrect key for submission": the lease was lost."""
    default().lease_lost.labels(modality).inc()


def not_stored(modality: str) -> None:
    """XQueue offered again a submission whose answer it had accepted: it did not keep it."""
    default().not_stored.labels(modality).inc()


def poll_ok(modality: str) -> None:
    """get_submission answered (with a submission or an empty queue)."""
    default().poll(modality, ok=True)


def poll_failed(modality: str) -> None:
    """get_submission failed (XQueue down, refused login, ...)."""
    default().poll(modality, ok=False)


def queue_length(n: int, modality: str) -> None:
    """XQueue's get_queuelen for the worker's queue."""
    default().queue_length.labels(modality).set(n)


# -- configuration helpers ----------------------------------------------------------------
def parse_ports(text: str) -> tuple[int, ...]:
    """``ML_METRICS_PORT``: ``9400``, a range ``9401-9408`` (the first free one is used, for
    several workers sharing the host network) or ``0`` (off); the ports to try, in order."""
    first, sep, last = text.strip().partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"expected a port, a range like 9401-9408, or 0; got {text!r}") from None
    if low == 0 and not sep:
        return ()
    if not 0 < low <= high <= 65535:
        raise ValueError(f"expected ports between 1 and 65535, low to high; got {text!r}")
    return tuple(range(low, high + 1))


def health_windows(settings: Any) -> tuple[float, float]:
    """``(stale_after_s, busy_limit_s)`` for :func:`serve`, from the worker's settings.

    Idle, one loop turn may wait the longest poll or backoff delay, then spend a put_result
    of a journalled result and a few HTTP calls; a job may take the media download, the
    handler's time limit (twice: waiting for another worker, then analysing) and the delivery.
    """
    http, put = settings.http_timeout_s, settings.put_result_timeout_s
    stale = max(settings.poll_max_interval_s, settings.backoff_max_s) + put + 4 * http + 30
    busy = 2 * settings.handler_timeout_s + settings.media_deadline_s + 3 * put + settings.backoff_max_s + 60
    return float(stale), float(busy)


def port_file(queue: str) -> Path:
    """Where a serving worker writes its address, for ``--check`` in the same container."""
    return Path(tempfile.gettempdir()) / f"ml-service-metrics-{queue or 'worker'}.json"


# -- the HTTP server ----------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, CONTENT_TYPE_LATEST, generate_latest(self.server.metrics.registry))
        elif path == "/healthz":
            ok, body = self.server.metrics.health()
            self._reply(200 if ok else 503, "application/json", json.dumps(body).encode())
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("metrics: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    metrics: Metrics


class MetricsServer:
    """``/metrics`` and ``/healthz`` served from a daemon thread."""

    def __init__(self, httpd: _Server, port_path: Path | None) -> None:
        self._httpd, self._port_path = httpd, port_path
        self.host, self.port = httpd.server_address[0], int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.25,), name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        if self._port_path is not None:
            self._port_path.unlink(missing_ok=True)


def serve(ports: Sequence[int], addr: str = "0.0.0.0", *, queue: str = "", stale_after_s: float = 300.0,
          busy_limit_s: float = 1800.0, metrics: Metrics | None = None) -> MetricsServer:
    """Serve on the first of ``ports`` that is free; raise :class:`OSError` if none is.

    The address goes to :func:`port_file` so that ``--check`` finds it when a range is used.
    """
    metrics = metrics if metrics is not None else default()
    metrics.stale_after_s, metrics.busy_limit_s = stale_after_s, busy_limit_s
    errors = []
    for port in ports:
        try:
            httpd = _Server((addr, port), _Handler)
        except OSError as exc:
            errors.append(f"{port}: {exc.strerror or exc}")
            continue
        httpd.metrics = metrics
        path = port_file(queue)
        server = MetricsServer(httpd, path)
        _write_port_file(path, server)
        logger.info("Metrics on http://%s:%d/metrics, health on /healthz", addr or "0.0.0.0", server.port)
        return server
    raise OSError(f"metrics: cannot listen on {addr} port(s) {', '.join(errors) or 'none given'}")


def _write_port_file(path: Path, server: MetricsServer) -> None:
    try:
        path.write_text(json.dumps({"host": server.host, "port": server.port}))
    except OSError as exc:
        logger.warning("metrics: cannot write %s (%s); --check falls back to ML_METRICS_PORT", path, exc)


# -- the container health check -------------------------------------------------------------
def check(environ: Mapping[str, str], timeout_s: float = 4.0) -> int:
    """GET /healthz of the worker in this container; 0 if healthy (or metrics are off), else 1."""
    try:
        ports = parse_ports(environ.get("ML_METRICS_PORT", str(DEFAULT_PORT)) or str(DEFAULT_PORT))
    except ValueError as exc:
        print(f"ML_METRICS_PORT: {exc}")
        return 1
    if not ports:
        print("metrics are off (ML_METRICS_PORT=0): nothing to check")
        return 0
    host, port = _served_address(port_file(environ.get("ML_XQUEUE_NAME", "")), ports[0])
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            print(resp.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{url}: HTTP {exc.code} {exc.read().decode('utf-8', 'replace')}")
    except OSError as exc:
        print(f"{url}: {exc}")
    return 1


def _served_address(path: Path, fallback_port: int) -> tuple[str, int]:
    try:
        served = json.loads(path.read_text())
        host, port = str(served["host"]), int(served["port"])
    except (OSError, ValueError, KeyError, TypeError):
        host, port = "", fallback_port
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return (f"[{host}]" if ":" in host else host), port


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["--check"]:
        print("usage: python -m ml_service.core.metrics --check   (the container health check)", file=sys.stderr)
        return 2
    return check(os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
