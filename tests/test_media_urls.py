"""Media URLs that two parsers read differently, against real loopback servers and a canary.

The allowed platform listens on 127.0.0.1; the canary on 127.0.0.2 must never be reached, and
the platform token must never leave for any origin but the platform's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_service.core.errors import MediaError
from ml_service.core.media import MediaFetcher
from ml_service.core.media_url import connection_origin, parse_media_url
from ml_service.sandbox.canary import Hit, RecordingServer

TOKEN = "platform-jwt-7d1e"


@pytest.fixture
def platform():
    with RecordingServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def canary():
    with RecordingServer("127.0.0.2") as server:
        yield server


def fetcher(platform: RecordingServer, allowed: frozenset[str] = frozenset({"127.0.0.1"})) -> MediaFetcher:
    return MediaFetcher(allowed, 10_000, timeout_s=2, token_origin=platform.url, attempts=1,
                        auth_header=lambda: {"Authorization": f"Bearer {TOKEN}"}, retry_wait=lambda s: False)


def confusing_urls(platform: RecordingServer, canary: RecordingServer) -> list[str]:
    p, c = platform.authority, canary.authority
    return [
        f"http://{c}\\@{p}/x",                # urlsplit: the platform; urllib3: the canary
        f"http://{c}\\\\@{p}/x",
        f"http://{c}\\{p}/x",
        f"http://{c}/\\@{p}/x",
        f"http://{c}%5C@{p}/x",
        f"http://{c}#@{p}/x",
        f"http://{c}?@{p}/x",
        f"http://{c}@{p}/x",                  # userinfo
        f"http://user:pw@{p}/x",
        f"http://{p}\\@{c}/x",
        f"http://{p}@{c}/x",
        f"http://{p} @{c}/x",
        f"http://{p}\t/x",
        f"http://{p}/x\r\nHost: {c}",
        f"http:/{p}/x",
        f"http:\\\\{p}/x",
        f"//{p}/x",
        f"http://{p}/x#frag",
        f"http://{p}:99999/x",
        f"http://{p}/caf\u00e9",
    ]


def test_urls_the_parsers_disagree_on_are_refused_and_reach_nothing(tmp_path, platform, canary):
    f = fetcher(platform)
    for url in confusing_urls(platform, canary):
        with pytest.raises(MediaError):
            f.fetch("x.webm", url, tmp_path)
    assert canary.hits == [], [h.path for h in canary.hits]
    assert platform.hits == [], "a refused URL must not reach even the allowed host"
    assert list(tmp_path.iterdir()) == []


def test_the_token_goes_to_the_platform_and_nowhere_else(tmp_path, platform, canary):
    f = fetcher(platform, allowed=frozenset({"127.0.0.1", "127.0.0.2"}))
    f.fetch("a.webm", f"{platform.url}/media/a.webm", tmp_path)
    f.fetch("b.webm", f"{canary.url}/media/b.webm", tmp_path)
    assert [h.authorization for h in platform.hits] == [f"Bearer {TOKEN}"]
    assert [h.authorization for h in canary.hits] == [None]


def test_a_platform_redirect_elsewhere_drops_the_token(tmp_path, platform, canary):
    platform.respond = lambda hit: (302, {"Location": f"{canary.url}/bucket/a.webm"}, b"")
    fetcher(platform, allowed=frozenset({"127.0.0.1", "127.0.0.2"})).fetch("a.webm", f"{platform.url}/a", tmp_path)
    assert platform.hits[0].authorization == f"Bearer {TOKEN}"
    assert [h.authorization for h in canary.hits] == [None]


@pytest.mark.parametrize("location", ["http://{c}\\@{p}/x", "http://{c}@{p}/x", "//{c}/x", "http://{c}#@{p}/x"])
def test_a_confusing_redirect_is_refused(tmp_path, platform, canary, location):
    platform.respond = lambda hit: (302, {"Location": location.format(c=canary.authority, p=platform.authority)}, b"")
    with pytest.raises(MediaError):
        fetcher(platform).fetch("a.webm", f"{platform.url}/a", tmp_path)
    assert canary.hits == []


def test_plain_urls_with_queries_still_work(tmp_path, platform):
    platform.respond = lambda hit: (200, {}, hit.path.encode())
    url = f"{platform.url}/media/a%20b.webm?X-Amz-Signature=ab12&v=1;x=@2"
    path = fetcher(platform).fetch("a.webm", url, tmp_path)
    assert path.read_bytes() == b"/media/a%20b.webm?X-Amz-Signature=ab12&v=1;x=@2"


def test_recording_server_refuses_non_loopback_addresses():
    with pytest.raises(ValueError):
        RecordingServer("169.254.169.254")
    assert Hit("GET", "/", {"authorization": "x"}).authorization == "x"


URL_CHARS = st.sampled_from(list("abz09:/@\\?#%.[]-_~!$&'()*+,;= \t") + ["%5C", "%2F", "%40", "\u00e9"])
HOSTS = st.sampled_from(["a.example", "127.0.0.1", "[::1]", "b.example", "a.example:81", "127.0.0.2:9"])


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTP://"]), HOSTS, st.lists(URL_CHARS, max_size=30).map("".join))
def test_a_url_that_passes_names_the_same_origin_for_every_parser(scheme, host, rest):
    url = scheme + host + rest
    try:
        target = parse_media_url(url)
    except MediaError:
        return
    prepared = requests.Request("GET", url).prepare().url
    split, pool = urlsplit(url), urllib3.util.parse_url(prepared)
    assert connection_origin(prepared) == target.origin
    assert (split.hostname, split.port or target.port) == (target.host, target.port)
    assert ((pool.host or "").strip("[]"), pool.port or target.port) == (target.host, target.port)
    assert split.username is None and "\\" not in url and "#" not in url
