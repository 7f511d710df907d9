"""Command line: ``python -m ml_service {run,check-config,sandbox,demo,analyze,new-handler}``.

The one place with side effects: it reads the environment and ``.env``, configures logging,
installs signal handlers, builds the clients and starts the worker.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Callable

from ml_service import __version__

from ml_service.core import metrics
from ml_service.core.config import Settings, load_environ
from ml_service.core.errors import ConfigError, HandlerLoadError
from ml_service.core.events import EventOutbox
from ml_service.core.handlers import Handler, load_handler
from ml_service.core.isolation import IsolatedHandler
from ml_service.core.journal import Journal
from ml_service.core.job import analyse
from ml_service.core.logs import configure_logging
from ml_service.core.media import MediaFetcher
from ml_service.core.media_checks import MediaLimits
from ml_service.core.platform import PlatformClient, ServiceIdentity
from ml_service.core.worker import Worker, WorkerTiming
from ml_service.core.xqueue import XQueueClient

__all__ = ["build_worker", "main"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sandbox"]:
        from ml_service.sandbox.cli import main as sandbox_main
        return sandbox_main(argv[1:])
    if argv[:1] == ["demo"] and "--live" in argv:
        from ml_service.sandbox.demo_live import main as live_main
        return live_main([a for a in argv[1:] if a != "--live"])
    if argv[:1] == ["demo"]:
        from ml_service.sandbox.demo import main as demo_main
        return demo_main(argv[1:])
    if argv[:1] == ["analyze"]:
        from ml_service.local.analyze import main as analyze_main
        return analyze_main(argv[1:])
    if argv[:1] == ["new-handler"]:
        from ml_service.scaffold import main as scaffold_main
        return scaffold_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    return args.func(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml_service", description=(
        "Pull proctoring recordings from XQueue, analyse them, and report results."))
    parser.add_argument("--version", action="version", version=f"ml-service {__version__}")
    parser.add_argument("--env-file", type=Path, default=Path(".env"),
                        help="read settings from this file too (default: .env; the environment wins)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the worker daemon")
    run.add_argument("--max-jobs", type=int, default=None, help="stop after this many submissions")
    run.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    run.set_defaults(func=_cmd_run)
    check = sub.add_parser("check-config", help="validate the configuration and print it (secrets masked)")
    check.set_defaults(func=_cmd_check_config)
    sub.add_parser("sandbox", help="run the local XQueue + platform stand-in (see: sandbox --help)")
    sub.add_parser("demo", help="run the whole system on this machine (see: demo --help, demo --live --help)")
    sub.add_parser("analyze", help="analyse local recordings, write result.json + report.html (see: analyze --help)")
    sub.add_parser("new-handler", help="write a new analyser's files: handlers/NAME, its samples and test (see: new-handler --help)")
    return parser


def _load_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(load_environ(os.environ, args.env_file))


def _cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = _load_settings(args)
        load_handler(settings.analyzer)
    except (ConfigError, HandlerLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(k) for k in settings.public_view())
    for key, value in settings.public_view().items():
        print(f"{key:<{width}}  {value}")
    print(f"handler {settings.analyzer} loads: ok")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        settings = _load_settings(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    secrets = [settings.xqueue_password.reveal(), settings.client_secret.reveal()]
    if settings.xqueue_basic_auth:
        secrets.append(settings.xqueue_basic_auth[1].reveal())
    configure_logging(settings.log_level, settings.log_format, secrets)
    try:
        worker = build_worker(settings)
    except HandlerLoadError as exc:
        logger.error("Cannot start: %s", exc)
        return 2
    _install_signal_handlers(worker)
    server = _serve_metrics(settings)
    logger.info("ml-service %s: %s pulling queue %s at %s with handler %s", __version__,
                settings.service_name, settings.queue_name, settings.xqueue_url, settings.analyzer)
    try:
        worker.run(max_jobs=args.max_jobs, burst=args.burst)
    finally:
        if worker.cancel is not None:
            worker.cancel()  # stop the handler process
        if server is not None:
            server.stop()
    return 0


def _serve_metrics(settings: Settings) -> metrics.MetricsServer | None:
    """/metrics and /healthz in a daemon thread; a port problem never stops the worker."""
    if not settings.metrics_ports or settings.metrics_ports == (0,):
        return None
    stale, busy = metrics.health_windows(settings)
    try:
        return metrics.serve(settings.metrics_ports, settings.metrics_addr, queue=settings.queue_name,
                             stale_after_s=stale, busy_limit_s=busy)
    except OSError as exc:
        logger.warning("Metrics not served (ML_METRICS_PORT): %s", exc)
        return None


def build_worker(settings: Settings) -> Worker:
    """Wire the clients, the journal, the handler and the loop from validated settings."""
    handler, cancel = _handler(settings)
    basic = settings.xqueue_basic_auth
    xqueue = XQueueClient(
        settings.xqueue_url, settings.xqueue_user, settings.xqueue_password.reveal(),
        timeout_s=settings.http_timeout_s, put_timeout_s=settings.put_result_timeout_s,
        basic_auth=(basic[0], basic[1].reveal()) if basic else None, verify_tls=settings.verify_tls,
        flavour=settings.xqueue_flavour)
    identity = ServiceIdentity(name=settings.service_name, queue=settings.queue_name)
    platform = PlatformClient(
        settings.platform_url, settings.client_id, settings.client_secret.reveal(), identity,
        token_path=settings.token_path, events_path=settings.events_path,
        timeout_s=settings.http_timeout_s, verify_tls=settings.verify_tls)
    stop_event = threading.Event()
    fetcher = MediaFetcher(
        settings.media_allowed_hosts, settings.media_max_bytes, timeout_s=settings.media_timeout_s,
        deadline_s=settings.media_deadline_s, token_origin=settings.platform_url, auth_header=platform.auth_header,
        invalidate_token=platform.invalidate_token, verify_tls=settings.verify_tls)
    journal = Journal(settings.state_dir / f"journal-{settings.queue_name}.sqlite3")
    timing = WorkerTiming(
        poll_interval_s=settings.poll_interval_s, poll_max_interval_s=settings.poll_max_interval_s,
        backoff_max_s=settings.backoff_max_s, heartbeat_s=settings.heartbeat_s,
        shutdown_grace_s=settings.shutdown_grace_s, rerun_interrupted=settings.rerun_interrupted,
        max_runs=settings.max_runs, wait_for_other_s=settings.handler_timeout_s)
    outbox = EventOutbox(platform, store=journal)
    run_job = functools.partial(analyse, handler=handler, fetcher=fetcher, work_root=settings.work_dir,
                                modality=settings.queue_name, retry_wait=stop_event.wait,
                                limits=MediaLimits(max_duration_s=settings.media_max_duration_s),
                                alert=functools.partial(outbox.post, "violation_detected"))
    return Worker(xqueue, settings.queue_name, run_job, outbox, journal,
                  timing, stop_event=stop_event, cancel=cancel, policy=settings.score_policy,
                  lease_s=settings.xqueue_lease_s)


def _handler(settings: Settings) -> tuple[Handler, Callable[[], None] | None]:
    """The handler, isolated in a child process (started now, so load errors show at start-up)."""
    if settings.handler_isolation == "inline":
        return load_handler(settings.analyzer), None
    isolated = IsolatedHandler(settings.analyzer, timeout_s=settings.handler_timeout_s,
                               memory_mb=settings.handler_memory_mb)
    isolated.start()
    return isolated, isolated.stop


def _install_signal_handlers(worker: Worker) -> None:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        if worker.stop_event.is_set():
            logger.warning("Second %s: exiting now", signal.Signals(signum).name)
            os._exit(130)
        logger.info("%s received: finishing the current job, then stopping", signal.Signals(signum).name)
        worker.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
