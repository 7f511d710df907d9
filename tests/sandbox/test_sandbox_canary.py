"""The recording server (canary) serves on loopback only: a loopback address or a name that
resolves to nothing else."""

from __future__ import annotations

import socket

import pytest

from ml_service.sandbox.canary import RecordingServer
from tests.sandbox.conftest import new_session


def test_a_canary_on_localhost_serves_and_records_who_asked():
    with RecordingServer("localhost") as server:
        assert server.url.startswith("http://localhost:")
        resp = new_session().get(f"{server.url}/probe", timeout=10)
        assert (resp.status_code, resp.content) == (200, b"canary")
    [hit] = server.hits
    assert (hit.method, hit.path, hit.peer) == ("GET", "/probe", "127.0.0.1")


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> None:
    """Names under ``.test`` resolve by ``table`` (or not at all): no lookup leaves the machine."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if not host.endswith(".test"):
            return real(host, *args, **kwargs)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
                for a in table[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_is_accepted_when_every_address_it_resolves_to_is_loopback(monkeypatch):
    fake_dns(monkeypatch, {"fakes.test": ["127.0.0.2", "::1"]})
    assert RecordingServer("fakes.test").authority == "fakes.test:0"


@pytest.mark.parametrize("host, says", [
    ("split.test", "'split.test' resolves to 10.0.0.5, not only to loopback addresses"),
    ("nowhere.test", "'nowhere.test' does not resolve"),
    ("169.254.169.254", "'169.254.169.254' is not a loopback address"),
    ("0.0.0.0", "'0.0.0.0' is not a loopback address"),
    ("", "'' does not resolve"),  # "" would bind every interface
])
def test_anything_else_is_refused_saying_why(monkeypatch, host, says):
    fake_dns(monkeypatch, {"split.test": ["127.0.0.1", "10.0.0.5"]})
    with pytest.raises(ValueError) as refused:
        RecordingServer(host)
    message = str(refused.value)
    assert message.startswith(says) and message.endswith(": a recording server serves on loopback only"), message
