"""The access log line, without the secrets requests carry.

Tokens travel in query strings (``?access_token=``, OAuth's ``code``, a
password sent as a GET parameter) and in the paths of e-mailed links
(password reset, e-mail confirmation).  Written as they came, they would sit
in every log file and log shipper; the combined log line is kept, with
their values replaced.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twisted.web.http import combinedLogFormatter
from twisted.web.iweb import IAccessLogFormatter, IRequest
from zope.interface import provider

FILTERED = "[FILTERED]"
# Parameters whose values are credentials or one-time secrets.
SECRET_PARAMETERS = frozenset(
    {
        "access_token",
        "admin_token",
        "client_secret",
        "code",
        "password",
        "password_confirmation",
        "refresh_token",
        "token",
    }
)
# Paths whose last segment is a secret: e-mailed links.
_SECRET_PREFIXES = (b"/api/pleroma/password_reset/", b"/api/account/confirm_email/")
_SECRET_PATHS = re.compile(
    rb"^(/api/pleroma/password_reset/|/api/account/confirm_email/[^/?]+/)[^/?]+"
)


def redact(uri: bytes) -> bytes:
    """``uri`` with every secret it carries replaced by ``[FILTERED]``."""
    if uri.startswith(_SECRET_PREFIXES):  # most do not: spare them the expression
        uri = _SECRET_PATHS.sub(rb"\1" + FILTERED.encode("ascii"), uri)
    if b"?" not in uri:
        return uri
    parts = urlsplit(uri.decode("latin-1"))
    query = [
        (name, FILTERED if _secret(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]"))).encode("latin-1")


def _secret(name: str) -> bool:
    # `data[password]` (the reset form) and `key[]` spellings count too.
    return name.removesuffix("[]").rpartition("[")[2].rstrip("]") in SECRET_PARAMETERS


class _Redacted:
    """The request as the log line reads it: uri and Referer redacted."""

    def __init__(self, request: IRequest) -> None:
        self._request = request
        self.uri = redact(request.uri)

    def getHeader(self, name: bytes) -> bytes | None:
        value: bytes | None = self._request.getHeader(name)
        if value is not None and name.lower() == b"referer":
            return redact(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _carries_secrets(request: IRequest) -> bool:
    # Most requests carry none: they are logged as they are, without the
    # proxy, which costs a few per cent of a prebuilt answer.
    referer: bytes | None = request.getHeader(b"referer")
    return redact(request.uri) != request.uri or (
        referer is not None and redact(referer) != referer
    )


@provider(IAccessLogFormatter)
def access_log_line(timestamp: str, request: IRequest) -> str:
    """Twisted's combined log line, secrets filtered out."""
    logged = _Redacted(request) if _carries_secrets(request) else request
    line: str = combinedLogFormatter(timestamp, logged)
    return line
