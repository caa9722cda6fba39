"""Serving a :class:`~pleromad.views.prebuilt.Prebuilt` answer: its ETag,
and a 304 for a client that already holds it."""

from __future__ import annotations

from twisted.web.iweb import IRequest

from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import JSON_CONTENT_TYPE


def serve_prebuilt(request: IRequest, answer: Prebuilt, cache_control: bytes) -> bytes:
    request.setHeader(b"etag", answer.etag.encode("ascii"))
    request.setHeader(b"cache-control", cache_control)
    if _matches(request.getHeader(b"if-none-match"), answer.etag):
        request.setResponseCode(304)
        return b""
    request.setHeader(b"content-type", JSON_CONTENT_TYPE)
    request.setHeader(b"content-length", b"%d" % len(answer.body))
    return answer.body


def _matches(if_none_match: bytes | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` with our ETag."""
    if if_none_match is None:
        return False
    candidates = if_none_match.decode("latin-1").split(",")
    return any(c.strip().removeprefix("W/") in (etag, "*") for c in candidates)
