"""Secrets of the platform stand-in: client secret hashes, the signing key, and JWTs.

Client secrets are stored only as salted scrypt hashes. The HS256 signing key is made once
per state dir (``signing.key``, mode 0600) and never printed. Tokens carry ``sub`` (the
client id), ``iat`` and ``exp``; expiry is checked against the sandbox's own clock so
tests can expire a token without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

import jwt

__all__ = ["TokenError", "TokenIssuer", "hash_secret", "load_signing_key", "verify_secret"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY_HASH_SALT = b"sandbox-dummy-salt"


class TokenError(Exception):
    """A bearer token was refused; ``str(exc)`` says why (never the token itself)."""


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of ``secret``: ``scrypt$n$r$p$salt_hex$hash_hex``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches ``stored``; takes as long for an unknown client."""
    if stored is None:
        hashlib.scrypt(secret.encode("utf-8"), salt=_DUMMY_HASH_SALT, **_SCRYPT)
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def load_signing_key(path: Path) -> bytes:
    """Read the signing key at ``path``, creating it (0600) on first use."""
    path = Path(path)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)  # atomic; a concurrent creator's key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return bytes.fromhex(path.read_text("ascii").strip())


class TokenIssuer:
    """Issues and verifies the platform's HS256 bearer tokens."""

    def __init__(self, key: bytes, clock: Callable[[], float], ttl_s: float) -> None:
        self._key = key
        self._clock = clock
        self.ttl_s = ttl_s

    def issue(self, client_id: str) -> str:
        now = self._clock()
        claims = {"sub": client_id, "iat": int(now), "exp": math.ceil(now + self.ttl_s)}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> str:
        """Return the client id of a valid token, else raise :class:`TokenError`."""
        options = {"require": ["sub", "iat", "exp"], "verify_exp": False, "verify_iat": False}
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], options=options)
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {type(exc).__name__}") from exc
        if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= self._clock():
            raise TokenError("token expired")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise TokenError("token has no subject")
        return claims["sub"]
