"""Everything both web apps share: the config, the stores, the token issuer, the URLs.

:func:`open_state` lays out the state dir (``sandbox.db``, ``signing.key``,
``xqueue_media/``) and registers the configured clients. A second :class:`SandboxState`
on the same dir sees everything the first one stored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

from ml_service.sandbox.config import SandboxConfig
from ml_service.sandbox.counts import CountingStore, QueueCounts
from ml_service.sandbox.db import Database
from ml_service.sandbox.edx_store import EdxStore
from ml_service.sandbox.files import FileStore
from ml_service.sandbox.logins import LoginSessions
from ml_service.sandbox.platform_store import PlatformStore
from ml_service.sandbox.queue_store import QueueStore
from ml_service.sandbox.tokens import TokenIssuer, load_signing_key

__all__ = ["SandboxState", "SubmissionStore", "media_root", "open_database", "open_state"]


class SubmissionStore(CountingStore, FileStore, Protocol):
    """What is read of the active flavour's store: counts, files, and what is left to retire."""

    def unretired(self) -> int:
        """Submissions not retired yet, in every queue (the chaos bench's "not retired")."""
        ...


@dataclass
class SandboxState:
    """Shared by the XQueue app and the platform app of one running sandbox."""

    config: SandboxConfig
    queue: QueueStore
    platform: PlatformStore
    tokens: TokenIssuer
    logins: LoginSessions
    edx: EdxStore | None = None  # the edx-submissions flavour's submissions
    xqueue_url: str = ""
    platform_url: str = ""

    def check_user(self, username: str, password: str) -> bool:
        """An XQueue login: the configured users, compared in constant time."""
        expected = self.config.users.get(username)
        if expected is None:
            return False
        return hmac.compare_digest(expected.encode("utf-8"), password.encode("utf-8"))

    @property
    def submissions(self) -> SubmissionStore:
        """The store of the flavour this sandbox runs: edx-submissions' rows or XQueue's.

        The one place that picks it: everything else reads this, never ``edx or queue``."""
        return self.edx if self.edx is not None else self.queue

    def queue_counts(self) -> dict[str, QueueCounts]:
        """Every configured queue's counts, from the active flavour's store."""
        return {name: self.submissions.counts(name) for name in self.config.queues}

    def media_urls(self, file_keys: Mapping[str, str]) -> dict[str, str]:
        """Absolute URLs of stored files (filename -> path under the media root), as the
        platform's media route serves them."""
        return {name: f"{self.platform_url}/media/{path}" for name, path in file_keys.items()}


def media_root(state_dir: Path) -> Path:
    return Path(state_dir) / "xqueue_media"


def open_database(state_dir: Path) -> Database:
    """The state dir's database (created, with its folder, on first use)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    return Database(state_dir / "sandbox.db")


def open_state(config: SandboxConfig) -> SandboxState:
    """Open (or create) the state dir of ``config`` and register its clients."""
    db = open_database(config.state_dir)
    media_root(config.state_dir).mkdir(exist_ok=True)
    queue = QueueStore(
        db, media_root(config.state_dir), config.queues, config.clock,
        config.lease_s, config.max_failures,
    )
    edx = None
    if config.flavour == "edx-submissions":
        edx = EdxStore(db, media_root(config.state_dir), config.clock, config.lease_s, config.edx_score)
    platform = PlatformStore(db, config.clock)
    for client_id, secret in config.clients.items():
        platform.add_client(client_id, secret)
    key = load_signing_key(config.state_dir / "signing.key")
    tokens = TokenIssuer(key, config.clock, config.token_ttl_s)
    return SandboxState(config, queue, platform, tokens, LoginSessions(db, config.clock), edx)
