"""XQueue client against an httpretty XQueue that answers like the legacy server."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpretty
import pytest

from ml_service.core.errors import AuthError, LeaseLostError, ProtocolError, TransportError
from ml_service.core.xqueue import XQueueClient
from tests.xqueue_fake import XQ, FakeXQueue, envelope

pytestmark = pytest.mark.usefixtures("net_off")


@pytest.fixture
def net_off():
    httpretty.reset()
    httpretty.enable(allow_net_connect=False)
    yield
    httpretty.disable()
    httpretty.reset()


@pytest.fixture
def server() -> FakeXQueue:
    fake = FakeXQueue()
    fake.install()
    return fake


def client(password: str = "ml_password") -> XQueueClient:
    return XQueueClient(XQ, "ml_service", password, timeout_s=2)


def form_of(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}


def test_login_gets_csrf_cookie_then_posts_form_with_csrf_header_and_referer(server):
    xq = client()
    xq.login()
    requests_seen = httpretty.latest_requests()
    get, post = requests_seen[0], requests_seen[-1]  # httpretty may record a POST twice
    assert (get.method, get.path) == ("GET", "/xqueue/login/")
    assert (post.method, post.path) == ("POST", "/xqueue/login/")
    assert form_of(post) == {"username": "ml_service", "password": "ml_password"}
    assert post.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert post.headers["X-CSRFToken"] == "csrf123"
    assert post.headers["Referer"] == XQ + "/"
    assert xq.logged_in


def test_wrong_password_raises_auth_error_without_the_password_in_it(server):
    with pytest.raises(AuthError) as info:
        client("wrong-pass-123").login()
    assert "Incorrect login credentials" in str(info.value)
    assert "wrong-pass-123" not in str(info.value)


def test_empty_queue_is_none_not_an_error(server):
    assert client().get_submission("debug") is None


def test_unknown_queue_raises_protocol_error_with_server_text(server):
    with pytest.raises(ProtocolError, match="Queue 'nope' not found"):
        client().get_submission("nope")


def test_get_submission_decodes_three_layers_and_keeps_header_verbatim(server):
    server.add(7, {"session_id": "s-1"}, {"a.wav": "http://xqueue.test/media/a"})
    pulled = client().get_submission("debug")
    assert pulled.submission_id == 7
    assert pulled.submission_key == server.keys[7]
    assert json.loads(pulled.header) == {"submission_id": 7, "submission_key": server.keys[7]}
    assert json.loads(pulled.body) == {"session_id": "s-1"}
    assert pulled.files == {"a.wav": "http://xqueue.test/media/a"}
    assert httpretty.last_request().querystring == {"queue_name": ["debug"]}


def test_uses_trailing_slash_and_never_follows_redirects(server):
    xq = client()
    xq.login()
    server.expire_sessions()
    server.users["ml_service"] = "changed"  # the re-login will fail
    with pytest.raises(AuthError):
        xq.get_submission("debug")
    paths = [r.path for r in httpretty.latest_requests()]
    assert all(p.split("?")[0].endswith("/") for p in paths)
    assert not any(p.startswith("/xqueue/login/?next") for p in paths), "redirect was followed"


def test_expired_session_relogs_once_and_retries(server):
    xq = client()
    xq.login()
    server.add(1, {"session_id": "x"})
    server.expire_sessions()
    pulled = xq.get_submission("debug")
    assert pulled is not None and pulled.submission_id == 1
    assert server.logins == 2


def test_session_refused_after_fresh_login_raises_auth_error(server):
    xq = client()
    xq.login()
    server.pull_override = lambda: (403, "")  # the successor's answer to a refused session
    with pytest.raises(AuthError, match="after a fresh login"):
        xq.get_submission("debug")
    assert server.logins == 2


def test_login_required_reply_counts_as_lost_session(server):
    xq = client()
    xq.login()
    replies = iter([envelope(1, "login_required"), envelope(1, "Queue 'debug' is empty")])
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/",
                           body=lambda req, uri, h: [200, h, next(replies)])
    assert xq.get_submission("debug") is None
    assert server.logins == 2


@pytest.mark.parametrize("body, match", [
    ("<html>proxy error</html>", "non-JSON"),
    (json.dumps({"content": "x"}), "without return_code"),
    (json.dumps({"return_code": "zero", "content": "x"}), "non-integer"),
    (envelope(0, "not json at all"), "not valid JSON"),
    (envelope(0, json.dumps({"xqueue_body": "{}"})), "no xqueue_header"),
    (envelope(0, json.dumps({"xqueue_header": json.dumps({"submission_id": "x", "submission_key": "ab"})})),
     "submission_id"),
    (envelope(0, json.dumps([1, 2])), "not a JSON object"),
])
def test_malformed_get_submission_replies_raise_protocol_error(server, body, match):
    """Replies without a submission id: nothing could be answered."""
    xq = client()
    xq.login()
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/", body=body)
    with pytest.raises(ProtocolError, match=match):
        xq.get_submission("debug")


def test_server_error_and_connection_failure_are_transport_errors(server):
    xq = client()
    xq.login()
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/", status=502, body="bad gateway")
    with pytest.raises(TransportError, match="HTTP 502"):
        xq.get_submission("debug")
    down = XQueueClient("http://127.0.0.1:9", "u", "p", timeout_s=1)
    httpretty.disable()
    with pytest.raises(TransportError):
        down.login()


def test_put_result_sends_header_verbatim_and_body_as_form(server):
    server.add(3, {"session_id": "s"})
    xq = client()
    pulled = xq.get_submission("debug")
    xq.put_result(pulled.header, '{"correct": true}')
    sent = form_of(httpretty.last_request())
    assert sent == {"xqueue_header": pulled.header, "xqueue_body": '{"correct": true}'}
    assert httpretty.last_request().path == "/xqueue/put_result/"


def test_put_result_with_stale_key_is_lease_lost(server):
    server.add(3, {"session_id": "s"})
    xq = client()
    pulled = xq.get_submission("debug")
    server.keys[3] = "f" * 32  # re-offered to someone else with a new key
    with pytest.raises(LeaseLostError):
        xq.put_result(pulled.header, "{}")


def test_put_result_403_with_incorrect_key_is_not_a_relogin(server):
    """The edx-submissions successor answers a wrong key with HTTP 403."""
    xq = client()
    xq.login()
    httpretty.register_uri(httpretty.POST, f"{XQ}/xqueue/put_result/", status=403,
                           body=envelope(1, "Incorrect key for submission"))
    with pytest.raises(LeaseLostError):
        xq.put_result('{"submission_id": 1, "submission_key": "ab"}', "{}")
    assert server.logins == 1


def test_put_result_other_failure_is_protocol_error(server):
    xq = client()
    xq.login()
    server.put_reply = lambda form: (200, envelope(1, "Submission does not exist"))
    with pytest.raises(ProtocolError, match="Submission does not exist"):
        xq.put_result('{"submission_id": 99, "submission_key": "ab"}', "{}")


@pytest.mark.parametrize("content, expected", [(3, 3), ("4", 4)])
def test_get_queuelen_accepts_number_or_digit_string(server, content, expected):
    xq = client()
    xq.login()
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_queuelen/", body=envelope(0, content))
    assert xq.get_queuelen("debug") == expected


def test_get_queuelen_counts_waiting(server):
    server.add(1, {"session_id": "a"})
    server.add(2, {"session_id": "b"})
    assert client().get_queuelen("debug") == 2


def test_basic_auth_for_a_proxy_goes_on_every_request(server):
    xq = XQueueClient(XQ, "ml_service", "ml_password", basic_auth=("proxy", "proxypw"))
    xq.get_submission("debug")
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in httpretty.latest_requests())


@pytest.mark.parametrize("key", ["a5d571fd-0d2d-42fe-b32b-b52babaee6a4", "0f" * 16, "opaque key/+=:9"])
def test_submission_keys_are_opaque_strings(server, key):
    xq = client()
    xq.login()
    content = json.dumps({"xqueue_header": json.dumps({"submission_id": 3, "submission_key": key}),
                          "xqueue_body": "{}", "xqueue_files": "{}"})
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/", body=envelope(0, content))
    pulled = xq.get_submission("debug")
    assert pulled.submission_key == key


# --- replies over the size limit -----------------------------------------------------------


def huge_pull(size: int) -> str:
    body = json.dumps({"session_id": "s", "student_id": "B" * size})
    return envelope(0, json.dumps({"xqueue_header": json.dumps({"submission_id": 1, "submission_key": "ab"}),
                                   "xqueue_body": body, "xqueue_files": "{}"}))


def test_a_pull_reply_over_the_limit_is_a_protocol_error(server):
    server.pull_override = lambda: (200, huge_pull(9 * 1024 * 1024))
    with pytest.raises(ProtocolError, match="over the 8388608-byte limit"):
        client().get_submission("debug")


def test_a_compressed_reply_is_limited_after_decompression(server):
    import gzip
    bomb = gzip.compress(huge_pull(20 * 1024 * 1024).encode())
    assert len(bomb) < 100_000
    httpretty.register_uri(httpretty.GET, f"{XQ}/xqueue/get_submission/", body=bomb,
                           adding_headers={"Content-Encoding": "gzip"})
    with pytest.raises(ProtocolError, match="over the 8388608-byte limit"):
        c = client()
        c.logged_in = True
        c.get_submission("debug")


def test_a_reply_under_the_limit_is_read_as_before(server):
    server.pull_override = lambda: (200, huge_pull(1000))
    assert client().get_submission("debug").submission_id == 1
