"""Platform client: token fetch, refresh before expiry, 401 handling, status events."""

from __future__ import annotations

import json

import httpretty
import pytest

from ml_service.core.errors import AuthError, ProtocolError, TransportError
from ml_service.core.platform import PlatformClient, ServiceIdentity, jwt_expiry
from tests.xqueue_fake import PLATFORM, FakePlatform, make_jwt


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(clock):
    httpretty.reset()
    httpretty.enable(allow_net_connect=False)
    fake = FakePlatform(now=clock)
    fake.install()
    yield fake
    httpretty.disable()
    httpretty.reset()


def make_client(clock, secret: str = "s3cr3t-client-secret") -> PlatformClient:
    identity = ServiceIdentity(name="svc-webcam", queue="webcam", version="9.9", host="box1")
    return PlatformClient(PLATFORM, "webcam-client", secret, identity, clock=clock)


def test_token_is_fetched_with_client_credentials_and_cached(platform, clock):
    client = make_client(clock)
    first = client.token()
    assert client.token() == first
    assert len(platform.issued) == 1
    sent = json.loads(httpretty.latest_requests()[0].body)
    assert sent == {"client_id": "webcam-client", "client_secret": "s3cr3t-client-secret"}


def test_token_is_refreshed_shortly_before_its_exp(platform, clock):
    client = make_client(clock)
    first = client.token()
    clock.now += 3600 - 31  # inside the refresh margin (30 s) but not yet expired
    assert client.token() == first
    clock.now += 2
    assert client.token() != first
    assert len(platform.issued) == 2


def test_expires_in_is_used_when_the_token_is_not_a_jwt(platform, clock):
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token",
                           body=json.dumps({"access_token": "opaque", "expires_in": 100}))
    client = make_client(clock)
    assert client.token() == "opaque"
    clock.now += 95
    client.token()
    assert len([r for r in httpretty.latest_requests() if r.path == "/ml/auth/token"]) >= 2


def test_bad_credentials_raise_auth_error_without_the_secret(platform, clock):
    with pytest.raises(AuthError) as info:
        make_client(clock, secret="wrong-secret-value").token()
    assert "wrong-secret-value" not in str(info.value)


def test_token_reply_without_token_is_a_protocol_error(platform, clock):
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token", body=json.dumps({"nope": 1}))
    with pytest.raises(ProtocolError):
        make_client(clock).token()


def test_event_carries_identity_timestamp_attempt_and_bearer_header(platform, clock):
    client = make_client(clock)
    client.send_event("session_processing_start", {"submission_id": 4}, attempt=2)
    event = platform.events[-1]
    assert event == {
        "timestamp": "2023-11-14T22:13:20.000Z",
        "event_type": "session_processing_start",
        "data": {"submission_id": 4},
        "attempt": 2,
        "service": {"name": "svc-webcam", "queue": "webcam", "version": "9.9", "host": "box1"},
    }
    assert platform.auth_headers[-1] == f"Bearer {platform.issued[-1]}"
    assert platform.issued[-1] not in json.dumps(event)


def test_401_on_event_fetches_a_new_token_once_and_resends(platform, clock):
    client = make_client(clock)
    client.token()
    platform.reject_next_event = 1
    client.send_event("heartbeat", {})
    assert len(platform.issued) == 2
    assert platform.types() == ["heartbeat"]


def test_401_twice_raises_auth_error(platform, clock):
    client = make_client(clock)
    platform.reject_next_event = 2
    with pytest.raises(AuthError):
        client.send_event("heartbeat", {})


def test_unknown_event_type_is_refused_locally(platform, clock):
    with pytest.raises(ValueError):
        make_client(clock).send_event("made_up", {})
    assert httpretty.latest_requests() == []


def test_platform_down_is_a_transport_error(clock):
    client = PlatformClient("http://127.0.0.1:9", "c", "s", ServiceIdentity("n", "q"), clock=clock, timeout_s=1)
    with pytest.raises(TransportError):
        client.send_event("heartbeat", {})


def test_jwt_expiry_reads_exp_and_tolerates_garbage():
    assert jwt_expiry(make_jwt({"exp": 123})) == 123.0
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.b.c") is None


@pytest.mark.parametrize("expires_in", ["soon", "", [], {}, True, -5, "1e999", "NaN"])
def test_an_expires_in_that_is_not_a_positive_number_is_a_protocol_error(platform, clock, expires_in):
    body = json.dumps({"access_token": "opaque", "expires_in": expires_in})
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token", body=body)
    with pytest.raises(ProtocolError, match="expires_in"):
        make_client(clock).token()


@pytest.mark.parametrize("body", ['{"access_token": "opaque", "expires_in": NaN}',
                                  '{"access_token": "opaque", "expires_in": 1e999}'])
def test_a_non_finite_expires_in_is_a_protocol_error(platform, clock, body):
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token", body=body)
    with pytest.raises(ProtocolError):
        make_client(clock).token()


@pytest.mark.parametrize("expires_in, lifetime", [(None, 300), ("120", 120), (60.5, 60.5)])
def test_a_missing_or_numeric_text_expires_in_is_accepted(platform, clock, expires_in, lifetime):
    body = json.dumps({"access_token": "opaque", **({} if expires_in is None else {"expires_in": expires_in})})
    fetched = []
    httpretty.reset()  # only this token endpoint
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token",
                           body=lambda request, uri, headers: fetched.append(1) or [200, headers, body])
    client = make_client(clock)
    client.token()
    clock.now += lifetime * 0.85  # inside its lifetime, before the refresh margin: kept
    client.token()
    assert len(fetched) == 1
    clock.now += lifetime * 0.15  # at the end of its lifetime: refreshed
    client.token()
    assert len(fetched) == 2


def test_jwt_expiry_ignores_a_non_finite_exp():
    assert jwt_expiry(make_jwt({"exp": "NaN"})) is None
    assert jwt_expiry(make_jwt({"exp": "inf"})) is None


def test_a_token_reply_over_the_size_limit_is_a_protocol_error(platform, clock):
    huge = json.dumps({"access_token": "opaque", "padding": "x" * (2 * 1024 * 1024)})
    httpretty.register_uri(httpretty.POST, f"{PLATFORM}/ml/auth/token", body=huge)
    with pytest.raises(ProtocolError, match="over the 1048576-byte limit"):
        make_client(clock).token()
