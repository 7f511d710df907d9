"""Posting a grader's reply to the LMS callback, the way xqueue does (``XQUEUE.md`` §3–4).

A form POST of ``xqueue_header`` (the LMS's original header) and ``xqueue_body`` (the
grader's reply, verbatim), up to ``attempts`` tries with ``timeout_s`` each; only HTTP 200
counts as delivered. Unlike xqueue, the sandbox posts only to loopback addresses, never
follows redirects and ignores proxy settings: it must never send traffic off the machine.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["deliver", "is_loopback_host", "is_loopback_url"]

logger = logging.getLogger(__name__)


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is ``localhost`` or a loopback IP literal."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_host(host)


def is_loopback_host(host: Any) -> bool:
    """True for ``localhost`` or a loopback IP literal (the rule for callbacks, for the
    address the sandbox serves on, and for each address a recording server's host resolves to)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def deliver(
    url: str, lms_header: str, reply: str, attempts: int = 5, timeout_s: float = 5.0
) -> bool:
    """POST the reply to the LMS callback; True once an attempt is answered with 200."""
    if not is_loopback_url(url):
        logger.warning("not delivering to non-loopback LMS callback %s", url)
        return False
    form = {"xqueue_header": lms_header, "xqueue_body": reply}
    with requests.Session() as session:
        session.trust_env = False
        for attempt in range(1, attempts + 1):
            try:
                resp = session.post(url, data=form, timeout=timeout_s, allow_redirects=False)
            except requests.RequestException as exc:
                logger.info("LMS callback %s attempt %d failed: %s", url, attempt, exc)
                continue
            if resp.status_code == 200:
                return True
            logger.info("LMS callback %s attempt %d: HTTP %d", url, attempt, resp.status_code)
    logger.warning("LMS callback %s not delivered after %d attempts", url, attempts)
    return False
