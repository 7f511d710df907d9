"""A local XQueue server and proctoring-platform stand-in, for tests and the demo.

Two WSGI apps served on loopback, state kept in SQLite under a state dir so a restart
loses nothing::

    xqueue_app.py    /xqueue/...: login, get_queuelen, get_submission, put_result, submit
    platform_app.py  /ml/auth/token, /ml/events, /media/, /api/..., the LMS callback, /
    queue_store.py   submissions, files, the pull lease, keys, LMS delivery state
    edx_store.py     the same for ``--flavour edx-submissions``
    counts.py        per-queue counts (waiting, pulled, answered) both stores give the page
    files.py         uploaded files: how both stores save them and list a submission's
    platform_store.py  clients, events, services, sessions, results
    callback.py      posting replies to the LMS callback (loopback only)
    tokens.py        secret hashes, the signing key, JWTs
    logins.py        XQueue login sessions
    events.py        status event validation
    page.py          the HTML status page
    state.py         what both apps share; db.py the SQLite schema
    server.py        :class:`Sandbox`, running both apps in threads; cli.py the command

and the demo, which runs the whole system against it: ``demo.py`` (``python -m ml_service
demo``), ``demo_samples.py`` and ``demo_media.py`` (what it submits), ``demo_table.py`` (what it
prints), ``demo_live.py``, ``live_cut.py`` and ``live_platform.py`` (``demo --live``: a recording
played in as a live session's segments).

May import: ``ml_service.core``, ``ml_service.samples`` (the demo's labelled recordings) and
``ml_service.local`` (a live session played through a handler). The core never imports it.

Use::

    with Sandbox(SandboxConfig(state_dir=tmp, xqueue_port=0, platform_port=0)) as sb:
        sb.add_client("webcam-1", secret)
        sid = sb.submit_session("webcam", {"session_id": "s1"}, {"webcam.webm": path})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml_service.sandbox.config import SandboxConfig
    from ml_service.sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxConfig"]


def __getattr__(name: str) -> Any:
    """``Sandbox`` and ``SandboxConfig`` are imported on first use, so the demo's media makers
    (``demo_media``) import without Flask: the compose demo's submitter runs in a worker image."""
    if name == "Sandbox":
        from ml_service.sandbox.server import Sandbox
        return Sandbox
    if name == "SandboxConfig":
        from ml_service.sandbox.config import SandboxConfig
        return SandboxConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
