"""The ``sandbox`` command: serve the sandbox, or register a platform client.

Usage (``python -m ml_service sandbox ...`` delegates here with the words after
``sandbox``)::

    sandbox [serve] [--state-dir DIR] [--host 127.0.0.1] [--xqueue-port 18040]
                    [--platform-port 8000] [--processing-delay S] [--config sandbox.json]
                    [--flavour xqueue|edx-submissions] [--edx-score scaled|integer] [--verbose]
    sandbox add-client CLIENT_ID [--state-dir DIR] [--config sandbox.json]
                    [--secret-file F | --generate]     (default: the secret is read from stdin)

``serve`` runs until SIGINT or SIGTERM. ``--flavour edx-submissions`` makes ``/xqueue/``
behave like edx-submissions' XQueue API instead of openedx/xqueue (README "Servers"). Settings come from the defaults, then the JSON
config file (keys are :class:`SandboxConfig` fields), then the flags. Secrets, passwords
and tokens are never logged; ``--generate`` prints the new secret once, on stdout.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ml_service.core.errors import ConfigError
from ml_service.sandbox.config import SandboxConfig, load_config_file
from ml_service.sandbox.platform_store import PlatformStore
from ml_service.sandbox.server import Sandbox
from ml_service.sandbox.state import open_database

__all__ = ["main"]

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path("state/sandbox")
_COMMANDS = ("serve", "add-client")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml_service sandbox",
        description="Local XQueue server and proctoring-platform stand-in.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve XQueue and the platform (default)")
    serve.add_argument("--host")
    serve.add_argument("--xqueue-port", type=int)
    serve.add_argument("--platform-port", type=int)
    serve.add_argument("--processing-delay", type=float, metavar="S",
                       help="seconds a pulled submission stays hidden (default 60; edx-submissions 300)")
    serve.add_argument("--flavour", choices=("xqueue", "edx-submissions"),
                       help="which XQueue server to behave like (default xqueue)")
    serve.add_argument("--edx-score", choices=("scaled", "integer"),
                       help="edx-submissions: store score x points_possible (4.0.2, default) or integers only")
    serve.add_argument("--verbose", "-v", action="store_true", help="log every request")
    add = sub.add_parser("add-client", help="register a platform client in the state dir")
    add.add_argument("client_id")
    how = add.add_mutually_exclusive_group()
    how.add_argument("--secret-file", type=Path, help="read the secret from this file")
    how.add_argument("--generate", action="store_true",
                     help="generate a secret and print it once on stdout")
    for command in (serve, add):
        command.add_argument("--state-dir", type=Path,
                             help=f"state directory (default ./{DEFAULT_STATE_DIR})")
        command.add_argument("--config", type=Path, help="sandbox.json settings file")
    return parser


def main(argv: list[str]) -> int:
    """Run the ``sandbox`` command; return the process exit status."""
    argv = list(argv)
    if argv[:1] == ["sandbox"]:
        argv = argv[1:]
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    _configure_logging(getattr(args, "verbose", False))
    try:
        settings = _settings(args)
        if args.command == "add-client":
            return _add_client(args, Path(settings["state_dir"]))
        return _serve(SandboxConfig(**settings))
    except ConfigError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2


def _configure_logging(verbose: bool) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults, then the config file, then the flags."""
    settings: dict[str, Any] = {"state_dir": DEFAULT_STATE_DIR}
    if args.config:
        settings.update(load_config_file(args.config))
    flags = {
        "state_dir": args.state_dir,
        "host": getattr(args, "host", None),
        "xqueue_port": getattr(args, "xqueue_port", None),
        "platform_port": getattr(args, "platform_port", None),
        "processing_delay_s": getattr(args, "processing_delay", None),
        "flavour": getattr(args, "flavour", None),
        "edx_score": getattr(args, "edx_score", None),
    }
    settings.update({key: value for key, value in flags.items() if value is not None})
    return settings


def _serve(config: SandboxConfig) -> int:
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        with Sandbox(config):
            while not stop.wait(0.5):
                pass
            logger.info("stop signal received; shutting down")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM only set ``stop``; nothing to install off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    signals = (signal.SIGINT, signal.SIGTERM)
    return {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}


def _add_client(args: argparse.Namespace, state_dir: Path) -> int:
    secret = _read_secret(args)
    if not secret:
        print("sandbox: the secret must not be empty", file=sys.stderr)
        return 2
    PlatformStore(open_database(state_dir), time.time).add_client(args.client_id, secret)
    logger.info("client %s registered in %s", args.client_id, state_dir)
    if args.generate:
        print(secret)
    return 0


def _read_secret(args: argparse.Namespace) -> str:
    if args.generate:
        return secrets.token_urlsafe(32)
    if args.secret_file:
        try:
            return args.secret_file.read_text("utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError([f"--secret-file: {exc}"]) from exc
    if sys.stdin.isatty():
        return getpass.getpass(f"secret for {args.client_id}: ")
    return sys.stdin.readline().rstrip("\r\n")
