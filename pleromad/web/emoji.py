"""Custom emoji: `/api/pleroma/emoji`, `/api/v1/custom_emojis` and the files at `/emoji/*`.

The two lists are the current table's prebuilt bytes (see
:mod:`pleromad.emoji.table`), answered with an ETag and a short public
cache; a matching ``If-None-Match`` gets 304.  Files are served only if they
belong to an emoji of the table, with a long cache, ``nosniff`` and the
content type of their extension.  These routes take no parameters and no
credentials, so they are plain Klein routes rather than :func:`route` ones.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from pleromad.emoji import EmojiSet
from pleromad.emoji.table import Prebuilt
from pleromad.errors import ApiError
from pleromad.runtime import Runtime
from pleromad.web.base import JSON_CONTENT_TYPE, api_app

LIST_CACHE = b"public, max-age=300"
FILE_CACHE = b"public, max-age=86400"


class EmojiApi:
    app = api_app()
    prefixes = ("/api/pleroma/emoji", "/api/v1/custom_emojis", "/emoji")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @property
    def emoji(self) -> EmojiSet:
        return self.rt.emoji

    @app.route("/api/pleroma/emoji", methods=["GET"])
    async def pleroma_emoji(self, request: IRequest) -> bytes:
        return _cached(request, (await self.emoji.current()).pleroma)

    @app.route("/api/v1/custom_emojis", methods=["GET"])
    async def custom_emojis(self, request: IRequest) -> bytes:
        return _cached(request, (await self.emoji.current()).mastodon)

    # Kept as sent: werkzeug would answer "//" with a redirect of its own.
    @app.route("/emoji/<path:relpath>", methods=["GET"], merge_slashes=False)
    async def emoji_file(self, request: IRequest, relpath: str) -> bytes:
        found = await self.emoji.read_file(relpath)
        if found is None:
            raise ApiError("Not found", status=404)
        request.setHeader(b"content-type", found.content_type.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % len(found.body))
        request.setHeader(b"cache-control", FILE_CACHE)
        request.setHeader(b"x-content-type-options", b"nosniff")
        return found.body


def _cached(request: IRequest, answer: Prebuilt) -> bytes:
    request.setHeader(b"etag", answer.etag.encode("ascii"))
    request.setHeader(b"cache-control", LIST_CACHE)
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
