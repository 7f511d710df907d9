"""Shared test set-up."""

from __future__ import annotations

import httpretty.core


def _fake_shutdown(self, how: int) -> None:
    """urllib3 >= 2.3 calls sock.shutdown(); httpretty 1.1.4's fake socket lacks it
    (gabrielfalcao/HTTPretty#484), so closing a mocked response would raise."""


if not hasattr(httpretty.core.fakesock.socket, "shutdown"):
    httpretty.core.fakesock.socket.shutdown = _fake_shutdown
