"""The overall download deadline, against a real local server that trickles its body."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ml_service.core.errors import MediaError
from ml_service.core.media import MediaFetcher


class _Trickle(BaseHTTPRequestHandler):
    """200 bytes every 0.1 s, 100 times: each read is quick, the whole takes 10 s."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(200 * 100))
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x" * 200)
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trickle() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/media/slow.webm"
    server.shutdown()
    server.server_close()


def test_a_trickling_download_stops_at_the_deadline_and_leaves_no_file(trickle, tmp_path):
    fetcher = MediaFetcher(frozenset({"127.0.0.1"}), 10**6, timeout_s=5, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"took over 1 s \(\d+ bytes so far; ML_MEDIA_DEADLINE_S\)"):
        fetcher.fetch("slow.webm", trickle, tmp_path)
    assert 1.0 <= time.monotonic() - started < 4.0
    assert list(tmp_path.iterdir()) == []


def test_the_same_download_within_its_deadline_completes(trickle, tmp_path):
    fetcher = MediaFetcher(frozenset({"127.0.0.1"}), 10**6, timeout_s=5, deadline_s=30.0)
    path = fetcher.fetch("slow.webm", trickle, tmp_path)
    assert path.read_bytes() == b"x" * 20000
