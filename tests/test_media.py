"""Media download rules against an httpretty web: hosts, schemes, redirects, sizes, names, token."""

from __future__ import annotations

from pathlib import Path

import httpretty
import pytest
import requests
import urllib3

from ml_service.core.errors import AuthError, MediaError, TransportError
from ml_service.core.media import MediaFetcher, job_dir, safe_name

XQ = "http://xqueue.example:18040"
PLATFORM = "https://platform.example"
OTHER = "http://media.example"
EVIL = "http://evil.example"
TOKEN = "tok-3c9a.jwt-ish"
ALLOWED = frozenset({"xqueue.example", "platform.example", "Media.Example"})

offline = httpretty.activate(allow_net_connect=False)


def fetcher(max_bytes: int = 10_000, **kw) -> MediaFetcher:
    kw.setdefault("token_origin", PLATFORM)
    kw.setdefault("retry_wait", lambda seconds: False)  # no real pauses between attempts
    kw.setdefault("auth_header", lambda: {"Authorization": f"Bearer {TOKEN}"})
    return MediaFetcher(ALLOWED, max_bytes, timeout_s=2, **kw)


def serve(url: str, body: bytes = b"", status: int = 200, **kw) -> None:
    httpretty.register_uri(httpretty.GET, url, body=body, status=status, **kw)


def redirect(url: str, location: str, status: int = 302) -> None:
    httpretty.register_uri(httpretty.GET, url, status=status, body=b"", adding_headers={"Location": location})


def hosts_requested() -> list[str]:
    return [r.headers.get("Host", "").split(":")[0] for r in httpretty.latest_requests()]


# --- safe_name -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("webcam.webm", "webcam.webm"),
    ("../../etc/passwd", "passwd"),
    ("/abs/path/clip.wav", "clip.wav"),
    ("C:\\Users\\x\\video.webm", "video.webm"),
    ("dir/../..", "file"),
    ("..", "file"),
    (".", "file"),
    ("", "file"),
    ("a/b/", "file"),
    (".bashrc", "bashrc"),
    ("...hidden.mp4", "hidden.mp4"),
    ("my video (1).webm", "my_video_1_.webm"),
    ("caméra.webm", "cam_ra.webm"),
    ("a;rm -rf ~.wav", "a_rm_-rf_.wav"),
    ("$(id)`x`.jpg", "_id_x_.jpg"),
])
def test_safe_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["x" * 500 + ".webm", "../" * 50 + "." * 10 + "y" * 300, "\x00\n\t.webm"])
def test_safe_name_is_always_a_short_plain_base_name(name):
    out = safe_name(name)
    assert out and len(out) <= 120
    assert "/" not in out and "\\" not in out and not out.startswith(".")
    assert out not in (".", "..")


# --- fetching ------------------------------------------------------------------------------


@offline
def test_fetch_streams_body_to_dest(tmp_path):
    chunks = [bytes(range(256)) * 40 for _ in range(5)]
    serve(f"{XQ}/media/webcam.webm", body=chunks, streaming=True)
    path = fetcher(max_bytes=100_000).fetch("webcam.webm", f"{XQ}/media/webcam.webm", tmp_path)
    assert path == tmp_path / "webcam.webm"
    assert path.read_bytes() == b"".join(chunks)
    request = httpretty.last_request()
    assert request.method == "GET" and request.path == "/media/webcam.webm"


@offline
def test_fetch_uses_the_safe_name(tmp_path):
    serve(f"{XQ}/m", body=b"data")
    path = fetcher().fetch("../../etc/cron.d/evil", f"{XQ}/m", tmp_path)
    assert path == tmp_path / "evil"
    assert [p.name for p in tmp_path.iterdir()] == ["evil"]


@offline
def test_host_match_is_case_insensitive(tmp_path):
    serve(f"{OTHER}/a.wav", body=b"abc")
    path = fetcher().fetch("a.wav", "http://MEDIA.example/a.wav", tmp_path)
    assert path.read_bytes() == b"abc"


@offline
@pytest.mark.parametrize("url", [
    f"{EVIL}/webcam.webm",
    "http://xqueue.example.evil.example/webcam.webm",
    "http://127.0.0.1/webcam.webm",
])
def test_host_not_allowed_is_refused_without_a_request(tmp_path, url):
    serve(url, body=b"x")
    with pytest.raises(MediaError) as info:
        fetcher().fetch("webcam.webm", url, tmp_path)
    assert "not in ML_MEDIA_ALLOWED_HOSTS" in str(info.value)
    assert httpretty.latest_requests() == []
    assert list(tmp_path.iterdir()) == []


@offline
@pytest.mark.parametrize("url", [
    "http://xqueue.example@evil.example/webcam.webm",
    "http://evil.example\\@xqueue.example/webcam.webm",
    "http://169.254.169.254\\@platform.example/",
    "http://xqueue.example/webcam.webm#frag",
])
def test_urls_that_are_not_plain_are_refused_without_a_request(tmp_path, url):
    for host in ("evil.example", "xqueue.example", "169.254.169.254", "platform.example"):
        httpretty.register_uri(httpretty.GET, f"http://{host}/", body=b"x")
    with pytest.raises(MediaError, match="not a plain http"):
        fetcher().fetch("webcam.webm", url, tmp_path)
    assert httpretty.latest_requests() == []


@offline
@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "ftp://xqueue.example/webcam.webm",
    "gopher://xqueue.example/x",
    "xqueue.example/webcam.webm",
])
def test_non_http_scheme_refused(tmp_path, url):
    with pytest.raises(MediaError) as info:
        fetcher().fetch("webcam.webm", url, tmp_path)
    assert "scheme" in str(info.value)
    assert httpretty.latest_requests() == []


@offline
def test_redirect_to_allowed_host_is_followed(tmp_path):
    redirect(f"{XQ}/media/a.webm", f"{OTHER}/store/a.webm")
    serve(f"{OTHER}/store/a.webm", body=b"redirected-body")
    path = fetcher().fetch("a.webm", f"{XQ}/media/a.webm", tmp_path)
    assert path.read_bytes() == b"redirected-body"
    assert hosts_requested() == ["xqueue.example", "media.example"]


@offline
def test_relative_redirect_is_resolved(tmp_path):
    redirect(f"{XQ}/old/a.webm", "/new/a.webm", status=301)
    serve(f"{XQ}/new/a.webm", body=b"moved")
    assert fetcher().fetch("a.webm", f"{XQ}/old/a.webm", tmp_path).read_bytes() == b"moved"


@offline
def test_redirect_to_disallowed_host_is_refused(tmp_path):
    redirect(f"{XQ}/media/a.webm", f"{EVIL}/steal")
    serve(f"{EVIL}/steal", body=b"x")
    with pytest.raises(MediaError) as info:
        fetcher().fetch("a.webm", f"{XQ}/media/a.webm", tmp_path)
    assert "'evil.example'" in str(info.value)
    assert hosts_requested() == ["xqueue.example"]
    assert list(tmp_path.iterdir()) == []


@offline
def test_redirect_to_non_http_scheme_is_refused(tmp_path):
    redirect(f"{XQ}/media/a.webm", "file:///etc/passwd")
    with pytest.raises(MediaError, match="scheme"):
        fetcher().fetch("a.webm", f"{XQ}/media/a.webm", tmp_path)


@offline
def test_three_redirects_are_followed(tmp_path):
    for i in range(3):
        redirect(f"{XQ}/hop{i}", f"{XQ}/hop{i + 1}")
    serve(f"{XQ}/hop3", body=b"arrived")
    assert fetcher().fetch("a.webm", f"{XQ}/hop0", tmp_path).read_bytes() == b"arrived"
    assert len(httpretty.latest_requests()) == 4


@offline
def test_more_than_three_redirects_are_refused(tmp_path):
    for i in range(4):
        redirect(f"{XQ}/hop{i}", f"{XQ}/hop{i + 1}")
    serve(f"{XQ}/hop4", body=b"too far")
    with pytest.raises(MediaError) as info:
        fetcher().fetch("a.webm", f"{XQ}/hop0", tmp_path)
    assert "more than 3 redirects" in str(info.value)
    assert len(httpretty.latest_requests()) == 4
    assert list(tmp_path.iterdir()) == []


@offline
def test_redirect_loop_is_refused(tmp_path):
    redirect(f"{XQ}/loop", f"{XQ}/loop")
    with pytest.raises(MediaError, match="redirects"):
        fetcher().fetch("a.webm", f"{XQ}/loop", tmp_path)


@offline
def test_content_length_over_cap_is_refused_before_reading(tmp_path):
    serve(f"{XQ}/big", body=b"x" * 101)
    with pytest.raises(MediaError) as info:
        fetcher(max_bytes=100).fetch("big.webm", f"{XQ}/big", tmp_path)
    assert "101 bytes" in str(info.value) and "100-byte limit" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@offline
def test_content_length_at_cap_is_accepted(tmp_path):
    serve(f"{XQ}/exact", body=b"x" * 100)
    assert fetcher(max_bytes=100).fetch("exact.webm", f"{XQ}/exact", tmp_path).stat().st_size == 100


@offline
def test_body_over_cap_without_content_length_is_refused_and_partial_file_removed(tmp_path):
    mib = 1024 * 1024
    # Two 1 MiB reads: the first is written to disk, the second crosses the 1.5 MiB cap.
    serve(f"{XQ}/stream", body=[b"a" * mib, b"b" * mib], streaming=True)
    with pytest.raises(MediaError) as info:
        fetcher(max_bytes=mib + mib // 2).fetch("stream.webm", f"{XQ}/stream", tmp_path)
    assert "exceeds" in str(info.value)
    assert not (tmp_path / "stream.webm").exists()
    assert list(tmp_path.iterdir()) == []


@offline
def test_small_body_over_cap_without_content_length_is_refused(tmp_path):
    serve(f"{XQ}/stream", body=[b"x" * 60, b"y" * 60], streaming=True)
    with pytest.raises(MediaError, match="exceeds the 100-byte limit"):
        fetcher(max_bytes=100).fetch("s.webm", f"{XQ}/stream", tmp_path)
    assert list(tmp_path.iterdir()) == []


@offline
@pytest.mark.parametrize("status", [404, 403, 500, 204])
def test_http_error_status_is_refused(tmp_path, status):
    serve(f"{XQ}/media/gone.webm", body=b"nope", status=status)
    with pytest.raises(MediaError) as info:
        fetcher().fetch("gone.webm", f"{XQ}/media/gone.webm", tmp_path)
    assert f"HTTP {status}" in str(info.value)
    assert "xqueue.example:18040/media/gone.webm" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --- the platform token --------------------------------------------------------------------


@offline
def test_auth_header_sent_only_to_the_token_origin(tmp_path):
    serve(f"{PLATFORM}/media/screen.webm", body=b"p")
    serve(f"{XQ}/media/webcam.webm", body=b"x")
    serve(f"{OTHER}/media/voice.wav", body=b"o")
    f = fetcher()
    f.fetch("screen.webm", f"{PLATFORM}/media/screen.webm", tmp_path)
    f.fetch("webcam.webm", f"{XQ}/media/webcam.webm", tmp_path)
    f.fetch("voice.wav", f"{OTHER}/media/voice.wav", tmp_path)
    platform_req, xq_req, other_req = httpretty.latest_requests()
    assert platform_req.headers.get("Authorization") == f"Bearer {TOKEN}"
    assert "Authorization" not in xq_req.headers
    assert "Authorization" not in other_req.headers


@offline
def test_auth_header_not_carried_across_a_redirect(tmp_path):
    redirect(f"{PLATFORM}/media/a.webm", f"{OTHER}/bucket/a.webm")
    serve(f"{OTHER}/bucket/a.webm", body=b"data")
    fetcher().fetch("a.webm", f"{PLATFORM}/media/a.webm", tmp_path)
    first, second = httpretty.latest_requests()
    assert first.headers.get("Authorization") == f"Bearer {TOKEN}"
    assert "Authorization" not in second.headers


@offline
def test_no_auth_header_without_a_token_origin(tmp_path):
    serve(f"{PLATFORM}/media/a.webm", body=b"p")
    fetcher(token_origin=None).fetch("a.webm", f"{PLATFORM}/media/a.webm", tmp_path)
    assert "Authorization" not in httpretty.last_request().headers


# --- names and messages --------------------------------------------------------------------


@offline
def test_two_names_mapping_to_the_same_safe_name_get_two_files(tmp_path):
    serve(f"{XQ}/one", body=b"first")
    serve(f"{XQ}/two", body=b"second")
    serve(f"{XQ}/three", body=b"third")
    f = fetcher()
    assert f.fetch("a/webcam.webm", f"{XQ}/one", tmp_path).name == "webcam.webm"
    assert f.fetch("b/webcam.webm", f"{XQ}/two", tmp_path).name == "webcam-2.webm"
    assert f.fetch("my webcam.webm", f"{XQ}/three", tmp_path).name == "my_webcam.webm"
    assert f.fetch("my_webcam.webm", f"{XQ}/three", tmp_path).name == "my_webcam-2.webm"
    assert (tmp_path / "webcam.webm").read_bytes() == b"first"
    assert (tmp_path / "webcam-2.webm").read_bytes() == b"second"


@offline
def test_many_colliding_names_stay_distinct_and_safe(tmp_path):
    serve(f"{XQ}/x", body=b"x")
    f = fetcher()
    names = {f.fetch(f"dir{i}/.." + "/" * i + "clip", f"{XQ}/x", tmp_path).name for i in range(12)}
    assert len(names) == 12 and all(n == safe_name(n) for n in names)


SIGNED = "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=abc123def456"


def assert_no_query(message: str) -> None:
    for leak in ("?", "X-Amz", "abc123def456", "AKIAEXAMPLE"):
        assert leak not in message


@offline
def test_http_error_message_has_no_query_string(tmp_path):
    serve(f"{XQ}/media/a.webm", body=b"", status=404)
    with pytest.raises(MediaError) as info:
        fetcher().fetch("a.webm", f"{XQ}/media/a.webm{SIGNED}", tmp_path)
    assert "/media/a.webm" in str(info.value)
    assert_no_query(str(info.value))


@offline
def test_too_many_redirects_message_has_no_query_string(tmp_path):
    redirect(f"{XQ}/loop", f"{XQ}/loop{SIGNED}")
    with pytest.raises(MediaError) as info:
        fetcher().fetch("a.webm", f"{XQ}/loop{SIGNED}", tmp_path)
    assert_no_query(str(info.value))


@offline
def test_refused_host_message_has_no_query_string(tmp_path):
    with pytest.raises(MediaError) as info:
        fetcher().fetch("a.webm", f"{EVIL}/a.webm{SIGNED}", tmp_path)
    assert_no_query(str(info.value))


def test_connection_failure_is_a_media_error_without_query_string(tmp_path):
    class DownSession(requests.Session):
        def send(self, request, **kw):
            raise requests.ConnectionError(f"cannot reach {request.url}")

    waits: list[float] = []
    f = MediaFetcher(ALLOWED, 100, session=DownSession(),  # type: ignore[arg-type]
                     retry_wait=lambda s: waits.append(s) or False)
    with pytest.raises(MediaError) as info:
        f.fetch("a.webm", f"{XQ}/media/a.webm{SIGNED}", tmp_path)
    assert "ConnectionError" in str(info.value) and "after 5 attempt(s)" in str(info.value)
    assert_no_query(str(info.value))
    assert isinstance(info.value.__cause__.__cause__, requests.ConnectionError)
    assert waits == [0.5, 1.0, 2.0, 4.0]


@offline
def test_transient_server_errors_are_retried_then_succeed(tmp_path):
    replies = iter([(503, "busy"), (502, "gateway"), (200, "payload")])
    httpretty.register_uri(httpretty.GET, f"{XQ}/media/r.webm",
                           body=lambda req, uri, h: (lambda st, b: [st, h, b])(*next(replies)))
    waits: list[float] = []
    path = fetcher(retry_wait=lambda s: waits.append(s) or False).fetch("r.webm", f"{XQ}/media/r.webm", tmp_path)
    assert path.read_bytes() == b"payload" and waits == [0.5, 1.0]


@offline
def test_client_errors_are_not_retried(tmp_path):
    serve(f"{XQ}/media/gone.webm", status=404, body=b"no")
    waits: list[float] = []
    with pytest.raises(MediaError, match="HTTP 404"):
        fetcher(retry_wait=lambda s: waits.append(s) or False).fetch("gone.webm", f"{XQ}/media/gone.webm", tmp_path)
    assert waits == []


def test_download_breaking_off_is_a_media_error(tmp_path):
    class BreakingRaw:
        def __init__(self) -> None:
            self.reads = 0

        def read1(self, size: int, decode_content: bool | None = None) -> bytes:
            self.reads += 1
            if self.reads == 1:
                return b"first part"
            raise urllib3.exceptions.ProtocolError("connection reset")  # what urllib3 raises

        def close(self) -> None:
            pass

    class Session(requests.Session):
        def send(self, request, **kw):
            assert kw["stream"] is True and kw["allow_redirects"] is False
            response = requests.Response()
            response.status_code, response.url, response.raw = 200, request.url, BreakingRaw()
            return response

    f = MediaFetcher(ALLOWED, 1000, session=Session(), retry_wait=lambda s: False)  # type: ignore[arg-type]
    with pytest.raises(MediaError) as info:
        f.fetch("a.webm", f"{XQ}/media/a.webm{SIGNED}", tmp_path)
    assert "broke off" in str(info.value) and "ChunkedEncodingError" in str(info.value)
    assert_no_query(str(info.value))


def test_verify_tls_is_applied_to_the_session():
    session = requests.Session()
    MediaFetcher(ALLOWED, 100, verify_tls=False, session=session)
    assert session.verify is False


# --- job_dir -------------------------------------------------------------------------------


def test_job_dir_is_removed_after_use(tmp_path):
    with job_dir(tmp_path, 17) as folder:
        assert folder.is_dir() and folder.parent == tmp_path
        assert folder.name.startswith("job-17-")
        (folder / "nested").mkdir()
        (folder / "nested" / "clip.webm").write_bytes(b"x")
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_job_dir_is_removed_when_the_body_raises(tmp_path):
    with pytest.raises(RuntimeError, match="handler blew up"):
        with job_dir(tmp_path, 18) as folder:
            (folder / "clip.webm").write_bytes(b"x" * 100)
            raise RuntimeError("handler blew up")
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_job_dirs_of_the_same_submission_do_not_collide(tmp_path):
    with job_dir(tmp_path, 5) as a, job_dir(tmp_path, 5) as b:
        assert a != b and a.is_dir() and b.is_dir()
    assert list(tmp_path.iterdir()) == []


@offline
def test_fetch_into_job_dir_then_cleanup(tmp_path: Path):
    serve(f"{XQ}/media/webcam.webm", body=b"frames")
    with job_dir(tmp_path, 9) as folder:
        path = fetcher().fetch("webcam.webm", f"{XQ}/media/webcam.webm", folder)
        assert path.read_bytes() == b"frames"
    assert not path.exists() and list(tmp_path.iterdir()) == []


@offline
def test_auth_header_not_sent_to_the_same_host_on_another_scheme_or_port(tmp_path):
    serve("http://platform.example/media/a.webm", body=b"a")
    serve("https://platform.example:8443/media/b.webm", body=b"b")
    f = fetcher()
    f.fetch("a.webm", "http://platform.example/media/a.webm", tmp_path)
    f.fetch("b.webm", "https://platform.example:8443/media/b.webm", tmp_path)
    assert all("Authorization" not in r.headers for r in httpretty.latest_requests())


# --- the platform's token failing while downloading ----------------------------------------


@offline
def test_a_token_failure_is_retried_then_a_media_error(tmp_path):
    serve(f"{PLATFORM}/media/a.webm", body=b"p")
    calls: list[int] = []

    def no_token() -> dict[str, str]:
        calls.append(1)
        raise TransportError("platform token request answered HTTP 503")

    waits: list[float] = []
    with pytest.raises(MediaError, match="platform token") as info:
        fetcher(auth_header=no_token, retry_wait=lambda s: waits.append(s) or False).fetch(
            "a.webm", f"{PLATFORM}/media/a.webm", tmp_path)
    assert "after 5 attempt(s)" in str(info.value)
    assert len(calls) == 5 and waits == [0.5, 1.0, 2.0, 4.0]
    assert httpretty.latest_requests() == []


@offline
def test_a_token_that_comes_back_lets_the_download_succeed(tmp_path):
    serve(f"{PLATFORM}/media/a.webm", body=b"p")
    replies = iter([AuthError("refused"), {"Authorization": f"Bearer {TOKEN}"}])

    def flaky() -> dict[str, str]:
        reply = next(replies)
        if isinstance(reply, Exception):
            raise reply
        return reply

    path = fetcher(auth_header=flaky).fetch("a.webm", f"{PLATFORM}/media/a.webm", tmp_path)
    assert path.read_bytes() == b"p"


@offline
def test_a_401_from_the_platform_fetches_a_new_token_and_retries(tmp_path):
    replies = iter([(401, "expired"), (200, "payload")])
    httpretty.register_uri(httpretty.GET, f"{PLATFORM}/media/r.webm",
                           body=lambda req, uri, h: (lambda st, b: [st, h, b])(*next(replies)))
    invalidated: list[int] = []
    path = fetcher(invalidate_token=lambda: invalidated.append(1)).fetch("r.webm", f"{PLATFORM}/media/r.webm", tmp_path)
    assert path.read_bytes() == b"payload" and invalidated == [1]
