"""Fixtures for the sandbox tests: a fake clock, a running sandbox, XQueue/LMS clients."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest
import requests

from ml_service.sandbox import Sandbox, SandboxConfig

CLIENT_ID = "webcam-1"
CLIENT_SECRET = "s3cret-webcam-1"
USER, PASSWORD = "ml_service", "ml_password"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never a proxy: loopback only
    return session


def page_queue_counts(html: str) -> dict[str, tuple[int, int, int]]:
    """The status page's Queues table: queue -> (waiting, pulled, answered)."""
    table = html.split("<h2>Queues</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>'
                      r'<td class="num">(\d+)</td></tr>', table)
    return {name: (int(w), int(p), int(a)) for name, w, p, a in rows}


class XQueueClient:
    """A thin test client: no redirects followed, envelopes decoded."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = new_session()

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        resp = self.raw(method, path, **kwargs)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        assert resp.headers["Content-Type"].startswith("text/html")
        envelope = resp.json()
        assert set(envelope) == {"return_code", "content"}
        return envelope["return_code"], envelope["content"]

    def login(self, username: str = USER, password: str = PASSWORD) -> tuple[int, Any]:
        return self.call("POST", "/xqueue/login/", data={"username": username, "password": password})

    def queuelen(self, queue: str) -> tuple[int, Any]:
        return self.call("GET", "/xqueue/get_queuelen/", params={"queue_name": queue})

    def pull(self, queue: str) -> tuple[int, Any]:
        return self.call("GET", "/xqueue/get_submission/", params={"queue_name": queue})

    def pull_decoded(self, queue: str) -> dict[str, Any]:
        code, content = self.pull(queue)
        assert code == 0, content
        outer = json.loads(content)
        return {
            "header_text": outer["xqueue_header"],
            "header": json.loads(outer["xqueue_header"]),
            "body": outer["xqueue_body"],
            "files": json.loads(outer["xqueue_files"]),
        }

    def put_result(self, header: str | dict[str, Any], body: str) -> tuple[int, Any]:
        text = header if isinstance(header, str) else json.dumps(header)
        return self.call("POST", "/xqueue/put_result/", data={"xqueue_header": text, "xqueue_body": body})

    def submit(
        self, queue: str, body: str = "{}", callback: str = "http://127.0.0.1:9/cb",
        files: dict[str, bytes] | None = None, **extra: Any,
    ) -> tuple[int, Any]:
        header = {"lms_callback_url": callback, "lms_key": "k", "queue_name": queue, **extra}
        parts = {name: (name, data) for name, data in (files or {}).items()}
        return self.call("POST", "/xqueue/submit/", files=parts or None,
                         data={"xqueue_header": json.dumps(header), "xqueue_body": body})


class FakeLMS:
    """A loopback HTTP server that records callback POSTs and answers a set status."""

    def __init__(self) -> None:
        self.status = 200
        self.posts: list[dict[str, str]] = []
        lms = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                lms.posts.append({k: v[0] for k, v in form.items()})
                self.send_response(lms.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def config(state_dir: Path, clock: FakeClock) -> SandboxConfig:
    return SandboxConfig(
        state_dir=state_dir, xqueue_port=0, platform_port=0, clock=clock,
        clients={CLIENT_ID: CLIENT_SECRET}, callback_timeout_s=2.0,
    )


@pytest.fixture
def sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def anon(sandbox: Sandbox) -> XQueueClient:
    """An XQueue client that has not logged in."""
    return XQueueClient(sandbox.xqueue_url)


@pytest.fixture
def xq(sandbox: Sandbox) -> XQueueClient:
    """A logged-in XQueue client."""
    client = XQueueClient(sandbox.xqueue_url)
    assert client.login() == (0, "Logged in")
    return client


@pytest.fixture
def lms() -> Iterator[FakeLMS]:
    server = FakeLMS()
    yield server
    server.close()


@pytest.fixture
def http() -> requests.Session:
    return new_session()


@pytest.fixture
def make_client(sandbox: Sandbox) -> Any:
    """A factory of XQueue clients (of ``sandbox`` or another one), logged in by default."""

    def make(login: bool = True, on: Sandbox | None = None) -> XQueueClient:
        client = XQueueClient((on or sandbox).xqueue_url)
        if login:
            assert client.login() == (0, "Logged in")
        return client

    return make


@pytest.fixture
def start_sandbox(config: SandboxConfig) -> Iterator[Any]:
    """Start another sandbox: the ``config`` fixture's settings with overrides."""
    started: list[Sandbox] = []

    def start(**overrides: Any) -> Sandbox:
        settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        settings.update(overrides)
        sb = Sandbox(SandboxConfig(**settings))
        sb.start()
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()


@pytest.fixture
def token(sandbox: Sandbox, http: requests.Session) -> str:
    """A valid bearer token of the configured client."""
    resp = http.post(f"{sandbox.platform_url}/ml/auth/token",
                     json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


@pytest.fixture
def credentials() -> tuple[str, str]:
    return CLIENT_ID, CLIENT_SECRET
