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
from pleromad.errors import ApiError
from pleromad.runtime import Runtime
from pleromad.web.base import api_app
from pleromad.web.prebuilt import serve_prebuilt

LIST_CACHE = b"public, max-age=300"
FILE_CACHE = b"public, max-age=86400"


class EmojiApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @property
    def emoji(self) -> EmojiSet:
        return self.rt.emoji

    @app.route("/api/pleroma/emoji", methods=["GET"])
    async def pleroma_emoji(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, (await self.emoji.current()).pleroma, LIST_CACHE)

    @app.route("/api/v1/custom_emojis", methods=["GET"])
    async def custom_emojis(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, (await self.emoji.current()).mastodon, LIST_CACHE)

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
