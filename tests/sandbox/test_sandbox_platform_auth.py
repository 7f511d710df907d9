"""The platform's token endpoint and bearer checks (docs/contracts.md §4)."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import jwt
import pytest

EVENT = {"timestamp": "2026-11-23T10:00:00.123Z", "event_type": "heartbeat", "data": {},
         "attempt": 1, "service": {"name": "w1", "queue": "debug", "version": "0.1.0", "host": "h1"}}


def _token_reply(sandbox, http, **kwargs):
    return http.post(f"{sandbox.platform_url}/ml/auth/token", timeout=30, **kwargs)


def _post_event(sandbox, http, token=None, body=EVENT, scheme="Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return http.post(f"{sandbox.platform_url}/ml/events", json=body, headers=headers, timeout=30)


def test_token_is_an_hs256_jwt_with_sub_iat_exp(sandbox, http, credentials, clock):
    resp = _token_reply(sandbox, http, json={"client_id": credentials[0], "client_secret": credentials[1]})
    assert resp.status_code == 200
    reply = resp.json()
    assert reply["token_type"] == "Bearer" and reply["expires_in"] == 3600
    assert jwt.get_unverified_header(reply["access_token"])["alg"] == "HS256"
    claims = jwt.decode(reply["access_token"], options={"verify_signature": False})
    assert claims["sub"] == credentials[0]
    assert claims["iat"] == int(clock()) and claims["exp"] == claims["iat"] + 3600


def test_token_accepts_form_encoded_credentials(sandbox, http, credentials):
    resp = _token_reply(sandbox, http, data={"client_id": credentials[0], "client_secret": credentials[1]})
    assert resp.status_code == 200 and resp.json()["access_token"]


@pytest.mark.parametrize("body", [
    {"client_id": "webcam-1", "client_secret": "wrong"},
    {"client_id": "nobody", "client_secret": "s3cret-webcam-1"},
    {"client_id": "webcam-1", "client_secret": ""},
])
def test_bad_credentials_are_401_invalid_client(sandbox, http, body):
    resp = _token_reply(sandbox, http, json=body)
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("kwargs", [{"json": {}}, {"json": ["x"]}, {"data": {"client_id": "webcam-1"}},
                                    {"json": {"client_id": 5, "client_secret": "x"}}])
def test_malformed_token_request_is_400(sandbox, http, kwargs):
    resp = _token_reply(sandbox, http, **kwargs)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_token_ttl_is_configurable(tmp_path, start_sandbox, http, credentials, clock):
    sb = start_sandbox(state_dir=tmp_path / "short", token_ttl_s=30)
    reply = _token_reply(sb, http, json={"client_id": credentials[0], "client_secret": credentials[1]}).json()
    assert reply["expires_in"] == 30
    assert _post_event(sb, http, reply["access_token"]).status_code == 200
    clock.advance(30)
    assert _post_event(sb, http, reply["access_token"]).status_code == 401


def test_valid_token_is_accepted(sandbox, http, token):
    resp = _post_event(sandbox, http, token)
    assert resp.status_code == 200 and resp.json() == {"ok": True}


def test_expired_token_is_401(sandbox, http, token, clock):
    clock.advance(3599)
    assert _post_event(sandbox, http, token).status_code == 200
    clock.advance(1)
    resp = _post_event(sandbox, http, token)
    assert resp.status_code == 401 and resp.json() == {"error": "token expired"}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_token_is_401(sandbox, http, token):
    assert _post_event(sandbox, http).status_code == 401
    assert _post_event(sandbox, http, token, scheme="Basic").status_code == 401
    assert _post_event(sandbox, http, "", scheme="Bearer").status_code == 401


def test_forged_tokens_are_401(sandbox, http, token, credentials, clock):
    now = int(clock())
    claims = {"sub": credentials[0], "iat": now, "exp": now + 60}
    other_key = jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    head, payload, sig = token.split(".")
    tampered = ".".join([head, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), sig])
    for forged in (other_key, unsigned, tampered, "garbage", token + "x"):
        assert _post_event(sandbox, http, forged).status_code == 401, forged


def test_token_of_an_unknown_client_is_401(sandbox, http, state_dir, clock):
    """Signed with the real key (read from the state dir), but for a client never registered."""
    key = bytes.fromhex((Path(state_dir) / "signing.key").read_text().strip())
    now = int(clock())
    token = jwt.encode({"sub": "impostor", "iat": now, "exp": now + 60}, key, algorithm="HS256")
    resp = _post_event(sandbox, http, token)
    assert resp.status_code == 401 and resp.json() == {"error": "unknown client"}


def test_client_registered_at_runtime_can_get_a_token(sandbox, http):
    sandbox.add_client("audio-2", "another-secret")
    reply = _token_reply(sandbox, http, json={"client_id": "audio-2", "client_secret": "another-secret"})
    assert reply.status_code == 200


def test_only_salted_hashes_are_stored(sandbox, state_dir, credentials):
    sandbox.add_client("twin", credentials[1])
    raw = (Path(state_dir) / "sandbox.db").read_bytes()
    assert credentials[1].encode() not in raw
    with closing(sqlite3.connect(Path(state_dir) / "sandbox.db")) as conn:
        hashes = [r[0] for r in conn.execute("SELECT secret_hash FROM clients")]
    assert len(set(hashes)) == 2 and all(h.startswith("scrypt$") for h in hashes)


def test_signing_key_file_is_private(sandbox, state_dir):
    assert (Path(state_dir) / "signing.key").stat().st_mode & 0o077 == 0


def test_secrets_and_tokens_never_reach_the_logs(sandbox, http, credentials, caplog):
    caplog.set_level(logging.DEBUG)
    good = {"client_id": credentials[0], "client_secret": credentials[1]}
    token = _token_reply(sandbox, http, json=good).json()["access_token"]
    _token_reply(sandbox, http, json={**good, "client_secret": "wrong-secret-xyz"})
    _post_event(sandbox, http, token)
    _post_event(sandbox, http, token + "x")
    for secret in (credentials[1], "wrong-secret-xyz", token, token.split(".")[2]):
        assert secret not in caplog.text
