"""Running the sandbox: both web apps on loopback, in background threads.

:class:`Sandbox` is what tests and the demo use: ``with Sandbox(config) as sb: ...``.
Each app is served by ``werkzeug.serving.make_server(threaded=True)``; port 0 picks a
free port, and the real URLs are in :attr:`Sandbox.xqueue_url` and
:attr:`Sandbox.platform_url` once started.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Mapping

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from ml_service.sandbox.config import SandboxConfig
from ml_service.sandbox.faults import FaultInjector, FaultPlan
from ml_service.sandbox.platform_app import create_platform_app
from ml_service.sandbox.state import SandboxState, open_state
from ml_service.sandbox.xqueue_app import create_xqueue_app
from ml_service.sandbox.xqueue_edx_app import create_edx_app

__all__ = ["Sandbox"]

logger = logging.getLogger(__name__)

_POLL_S = 0.05  # how often serve_forever checks for shutdown: keeps stop() quick


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Sandbox:
    """A local XQueue server and platform stand-in sharing one state dir."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.xqueue_url = ""
        self.platform_url = ""
        self._state: SandboxState | None = None
        self._servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
        self.faults = FaultPlan()  # change at any time: read on every request

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state(self) -> SandboxState:
        if self._state is None:
            raise RuntimeError("the sandbox is not started")
        return self._state

    def start(self) -> None:
        """Open the state dir, bind both ports and serve in background threads."""
        if self._state is not None:
            raise RuntimeError("the sandbox is already started")
        state = open_state(self.config)
        cfg = self.config
        plan = lambda: self.faults  # noqa: E731 - the plan may be replaced while serving
        make_app = create_edx_app if cfg.flavour == "edx-submissions" else create_xqueue_app
        xqueue_app = FaultInjector(make_app(state), plan)
        xqueue = make_server(cfg.host, cfg.xqueue_port, xqueue_app, threaded=True)
        try:
            platform = make_server(
                cfg.host, cfg.platform_port, FaultInjector(create_platform_app(state), plan), threaded=True
            )
        except BaseException:
            xqueue.server_close()
            raise
        state.xqueue_url = self.xqueue_url = _url(cfg.host, xqueue.server_port)
        state.platform_url = self.platform_url = _url(cfg.host, platform.server_port)
        self._state = state
        for name, server in (("xqueue", xqueue), ("platform", platform)):
            thread = threading.Thread(
                target=server.serve_forever, args=(_POLL_S,), name=f"sandbox-{name}", daemon=True
            )
            thread.start()
            self._servers.append((server, thread))
        logger.info("sandbox XQueue at %s/xqueue/, platform at %s/ (state in %s)",
                    self.xqueue_url, self.platform_url, cfg.state_dir)

    def stop(self) -> None:
        """Stop serving and release the ports; the state dir keeps everything."""
        stoppers = [threading.Thread(target=server.shutdown) for server, _ in self._servers]
        for stopper in stoppers:  # both at once: each waits up to one poll interval
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        while self._servers:
            server, thread = self._servers.pop()
            server.server_close()
            thread.join(10)
        if self._state is not None:
            logger.info("sandbox stopped")
        self._state = None

    def add_client(self, client_id: str, secret: str) -> None:
        """Register a platform client (or replace its secret)."""
        self.state.platform.add_client(client_id, secret)

    def submit_session(
        self, queue: str, body: Mapping[str, Any] | str, files: Mapping[str, Path]
    ) -> int:
        """Submit one recording session through ``POST /api/sessions``; its submission id."""
        text = body if isinstance(body, str) else json.dumps(body)
        with ExitStack() as stack, requests.Session() as http:
            http.trust_env = False
            parts = {name: (name, stack.enter_context(open(path, "rb")))
                     for name, path in files.items()}
            resp = http.post(f"{self.platform_url}/api/sessions",
                             data={"queue": queue, "body": text}, files=parts or None, timeout=30)
        if resp.status_code != 200:
            raise ValueError(f"session refused: HTTP {resp.status_code} {resp.text.strip()}")
        return int(resp.json()["submission_id"])

    def media_urls(self, submission_id: int) -> dict[str, str]:
        """Where the platform serves a submitted file: filename -> URL (a later segment of a
        live session names the reference photo / voice by such a URL instead of uploading it).
        Read from the store of the flavour the sandbox runs; empty for an unknown submission."""
        return self.state.media_urls(self.state.submissions.file_keys(submission_id))

    def alerts(self) -> list[dict[str, Any]]:
        """Every ``violation_detected`` alert kept (one per ``alert_id``), oldest first."""
        return self.state.platform.alerts()

    def results(self) -> list[dict[str, Any]]:
        """Every result XQueue delivered to a session callback, oldest first."""
        return self.state.platform.results()

    def services(self) -> list[dict[str, Any]]:
        """Every service heard from, with ``alive`` and ``status`` as of now."""
        return self.state.platform.services(self.config.stale_after_s)

    def events(self) -> list[dict[str, Any]]:
        """Every accepted status event, oldest first."""
        return self.state.platform.events()
