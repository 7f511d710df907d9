"""Media URLs: one strict reading, used for the allow-list check and for the request alike.

Python's ``urlsplit`` and urllib3 (which ``requests`` uses) disagree on URLs such as
``http://a:1\\@b:2/x`` (``\\`` ends the authority for one, not the other), so a host check done
with one parser and a request made with the other can be sent anywhere. :func:`parse_media_url`
therefore accepts only a plain ``http(s)://host[:port]/path?query``: printable ASCII, no
``\\``, no user info, no fragment, no whitespace, a DNS name, IPv4 or bracketed IPv6 host, a
port in 1..65535, and path and query made of RFC 3986 characters. For such a URL every parser
agrees; :func:`connection_origin` re-reads a prepared request's URL the way ``requests``
picks the connection, so the fetcher can check that it still names the same origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from ml_service.core.errors import MediaError

__all__ = ["MediaURL", "Origin", "connection_origin", "parse_media_url"]

Origin = tuple[str, str, int]  # scheme, lower-case host (IPv6 without brackets), port

_MAX_URL = 8192
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_PLAIN = re.compile(
    rf"(?P<scheme>[Hh][Tt][Tt][Pp][Ss]?)://"
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"
    rf"(?::(?P<port>[0-9]{{1,5}}))?"
    rf"(?P<path>(?:/{_PCHAR}*)*)"
    rf"(?:\?(?P<query>(?:{_PCHAR}|[/?])*))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class MediaURL:
    """A URL that passed :func:`parse_media_url`."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> Origin:
        return self.scheme, self.host, self.port

    def describe(self) -> str:
        """The URL without its query (pre-signed URLs carry credentials there), bounded."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.scheme}://{host}:{self.port}{self.path}"
        return text if len(text) <= 200 else text[:200] + "..."


def parse_media_url(url: object) -> MediaURL:
    """Read ``url`` strictly; raise :class:`MediaError` for anything but a plain http(s) URL."""
    if not isinstance(url, str) or len(url) > _MAX_URL:
        raise MediaError("a media URL is not a string of at most 8192 characters")
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]{0,15}:", url)
    if scheme is None or scheme[0][:-1].lower() not in _DEFAULT_PORTS:
        named = repr(scheme[0][:-1].lower()) if scheme else "(none)"
        raise MediaError(f"media URL scheme {named} is not allowed (only http and https)")
    match = _PLAIN.fullmatch(url)
    if match is None:
        raise MediaError(f"media URL {_quote(url)} is not a plain http(s)://host[:port]/path?query URL "
                         "(no user info, backslash, fragment, spaces or other characters)")
    scheme = match["scheme"].lower()
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise MediaError(f"media URL {_quote(url)} has port {port}, outside 1-65535")
    host = match["host"].lower().strip("[]")
    return MediaURL(url=url, scheme=scheme, host=host, port=port, path=match["path"] or "/")


def connection_origin(url: str) -> Origin:
    """Scheme, host and port that ``requests`` connects to for an already prepared URL."""
    parts = urlparse(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def _quote(url: str) -> str:
    """Scheme and authority only, bounded: enough to recognise, never the query."""
    head = re.sub(r"[^/@]*@", "***@", re.split(r"[?#]", url, maxsplit=1)[0])
    return repr(head[:80] + ("..." if len(head) > 80 else ""))
