"""Media download: stream a submission's files into a per-job folder, trusting nothing.

Only plain http(s) URLs (:mod:`ml_service.core.media_url`: one strict reading for the check and
the request) on allowed hosts are fetched; redirects are followed by hand, at most three,
each checked anew; file names are reduced to a safe base name, made unique within the job
folder; sizes are capped both by ``Content-Length`` and while streaming. The platform's
bearer token is added only to a prepared request whose URL, read as the HTTP client
connects, is the platform's own origin (scheme, host, port). Every refusal is a
:class:`MediaError`.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urljoin

import requests
import urllib3

from ml_service.core.bounded import excerpt
from ml_service.core.errors import ConfigError, MediaError, MLServiceError
from ml_service.core.media_url import MediaURL, connection_origin, parse_media_url

__all__ = ["MediaFetcher", "job_dir", "safe_name"]

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1024 * 1024
_MAX_REDIRECTS = 3


def safe_name(name: str) -> str:
    """A file-system-safe base name for an untrusted file name (no dirs, no dot-files)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[:120]
    return cleaned or "file"


class job_dir:  # noqa: N801 - used like a function in a with statement
    """A temporary per-job folder, removed on exit whatever happened."""

    def __init__(self, root: Path, submission_id: int) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"job-{submission_id}-", dir=root))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class _Transient(MediaError):
    """A failure worth another try: the network or the server, not the request."""


class MediaFetcher:
    """Downloads media files under the configured rules."""

    def __init__(
        self,
        allowed_hosts: frozenset[str],
        max_bytes: int,
        timeout_s: float = 30.0,
        token_origin: str | None = None,
        auth_header: Callable[[], dict[str, str]] | None = None,
        invalidate_token: Callable[[], None] | None = None,
        verify_tls: bool = True,
        session: requests.Session | None = None,
        attempts: int = 5,
        retry_wait: Callable[[float], bool] = threading.Event().wait,
        deadline_s: float = 900.0,
    ) -> None:
        self.attempts, self.retry_wait, self.deadline_s = attempts, retry_wait, deadline_s
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.max_bytes, self.timeout_s = max_bytes, timeout_s
        try:
            self.token_origin = parse_media_url(token_origin).origin if token_origin else None
        except MediaError as exc:
            raise ConfigError([f"PLATFORM_URL: {exc}"]) from exc
        self._auth_header, self._invalidate = auth_header, invalidate_token
        self.http = session or requests.Session()
        self.http.verify = verify_tls

    def fetch(self, name: str, url: str, dest_dir: Path) -> Path:
        """Download ``url`` to ``dest_dir/safe_name(name)``; return the path.

        Transient failures (connection errors, 5xx, a broken-off body) are retried
        ``attempts`` times in all, with growing pauses (0.5, 1, 2, 4 s); refusals are not.
        All attempts together may take ``deadline_s`` (a trickling server cannot hold the
        worker: the read timeout alone restarts with every byte).
        """
        target = _free_path(dest_dir, safe_name(name))
        deadline = time.monotonic() + self.deadline_s
        for attempt in range(1, self.attempts + 1):
            try:
                return self._fetch_once(name, url, target, deadline)
            except _Transient as exc:
                pause = 0.5 * 2 ** (attempt - 1)
                if attempt == self.attempts or time.monotonic() + pause > deadline or self.retry_wait(pause):
                    raise MediaError(f"{exc} (after {attempt} attempt(s))") from exc
                logger.info("Retrying the download of %s: %s", excerpt(name), exc)
        raise AssertionError("unreachable")

    def _fetch_once(self, name: str, url: str, target: Path, deadline: float) -> Path:
        response = self._open(url)
        with response:
            self._check_length(name, response)
            written = self._stream(name, _arriving(response), target, deadline)
        logger.debug("Downloaded %s (%d bytes)", excerpt(name), written)
        return target

    def _open(self, url: str) -> requests.Response:
        for _ in range(_MAX_REDIRECTS + 1):
            target = self._check_url(url)
            try:
                response = self._send(target)
            except requests.RequestException as exc:
                raise _Transient(f"download of {target.describe()} failed: {type(exc).__name__}") from exc
            if response.is_redirect:
                url = urljoin(target.url, response.headers.get("Location", ""))
                response.close()
                continue
            if response.status_code == 401 and target.origin == self.token_origin and self._invalidate:
                response.close()
                self._invalidate()  # revoked or expired early: the next attempt fetches a new one
                raise _Transient(f"download of {target.describe()} refused the platform token (HTTP 401)")
            if response.status_code != 200:
                response.close()
                error = _Transient if response.status_code >= 500 else MediaError
                raise error(f"download of {target.describe()} answered HTTP {response.status_code}")
            return response
        raise MediaError(f"download of {target.describe()}: more than {_MAX_REDIRECTS} redirects")

    def _send(self, target: MediaURL) -> requests.Response:
        """Prepare the request, check that it still names the checked origin, then send it
        (never following redirects: each hop is checked anew, and gets the token only if it
        is the platform's own origin)."""
        prepared = self.http.prepare_request(requests.Request("GET", target.url))
        if connection_origin(prepared.url) != target.origin:
            raise MediaError(f"media URL {target.describe()} is read differently by the HTTP client; refused")
        prepared.headers.pop("Authorization", None)  # e.g. from ~/.netrc: only ours may go, below
        if self._auth_header is not None and target.origin == self.token_origin:
            try:
                prepared.headers.update(self._auth_header())
            except MLServiceError as exc:  # the token endpoint failed: worth another try
                raise _Transient(f"no platform token to download {target.describe()}: {exc}") from exc
        settings = self.http.merge_environment_settings(prepared.url, {}, True, self.http.verify, None)
        settings["stream"] = True
        return self.http.send(prepared, timeout=self.timeout_s, allow_redirects=False, **settings)

    def _check_url(self, url: str) -> MediaURL:
        target = parse_media_url(url)
        if target.host not in self.allowed_hosts:
            raise MediaError(f"media host {target.host!r} is not in ML_MEDIA_ALLOWED_HOSTS")
        return target

    def _check_length(self, name: str, response: requests.Response) -> None:
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise MediaError(f"media file {excerpt(name)} is {int(length)} bytes, over the {self.max_bytes}-byte limit")

    def _stream(self, name: str, chunks: Iterator[bytes], target: Path, deadline: float) -> int:
        written = 0
        try:
            with open(target, "xb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise MediaError(f"media file {excerpt(name)} exceeds the {self.max_bytes}-byte limit")
                    if time.monotonic() > deadline:
                        raise MediaError(f"download of {excerpt(name)} took over {self.deadline_s:.0f} s "
                                         f"({written} bytes so far; ML_MEDIA_DEADLINE_S)")
                    out.write(chunk)
        except requests.RequestException as exc:
            target.unlink(missing_ok=True)
            raise _Transient(f"download of {excerpt(name)} broke off: {type(exc).__name__}") from exc
        except MediaError:
            target.unlink(missing_ok=True)
            raise
        return written


def _free_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... before the suffix when taken (``a/x.webm``
    and ``b/x.webm`` both become safe name ``x.webm``)."""
    path = folder / name
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    for n in range(2, 10_000):
        if not path.exists():
            return path
        path = folder / f"{stem}-{n}{dot}{suffix}"
    raise MediaError(f"too many media files named like {name!r}")


def _arriving(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives (``read1``: whatever one read gives, up to ``_CHUNK``), so the
    deadline is checked after every read, not after a full chunk; urllib3's errors become
    requests' as ``iter_content`` would make them."""
    errors = urllib3.exceptions
    while True:
        try:
            data = response.raw.read1(_CHUNK, decode_content=True)
        except errors.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except errors.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except errors.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except errors.HTTPError as exc:  # ReadTimeoutError and the rest
            raise requests.ConnectionError(exc) from exc
        if not data:
            return
        yield data
