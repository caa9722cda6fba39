"""Custom emoji: `/api/pleroma/emoji`, `/api/v1/custom_emojis` and the files at `/emoji/*`.

The two lists are the current table's prebuilt bytes (see
:mod:`pleromad.emoji.table`), answered with an ETag and a short public
cache; a matching ``If-None-Match`` gets 304.  Files are served only if they
belong to an emoji of the table, with a long cache, ``nosniff`` and the
content type of their extension.  These routes take no parameters and no
credentials, so they are :func:`plain_route` ones rather than :func:`route` ones.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from pleromad.emoji import EmojiSet
from pleromad.errors import ApiError
from pleromad.openapi.spec import Operation, answer, array, binary, map_of, no_content, ref
from pleromad.runtime import Runtime
from pleromad.web.base import api_app, plain_route
from pleromad.web.prebuilt import serve_prebuilt

LIST_CACHE = b"public, max-age=300"
FILE_CACHE = b"public, max-age=86400"


_LIST_HEADERS = {
    "ETag": "The list's entity tag.",
    "Cache-Control": "Public, for 5 minutes.",
}

_NOT_MODIFIED = no_content(
    "The client's copy is current: `If-None-Match` matches the ETag.", **_LIST_HEADERS
)


class EmojiApi:
    app = api_app()
    tag = "Emoji"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @property
    def emoji(self) -> EmojiSet:
        return self.rt.emoji

    @plain_route(
        app,
        "/api/pleroma/emoji",
        "GET",
        doc=Operation(
            "The custom emoji, Pleroma's way.",
            responses={
                200: answer(
                    map_of(ref("PleromaEmoji")), "Shortcode -> its file and tags.", **_LIST_HEADERS
                ),
                304: _NOT_MODIFIED,
            },
        ),
    )
    async def pleroma_emoji(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, (await self.emoji.current()).pleroma, LIST_CACHE)

    @plain_route(
        app,
        "/api/v1/custom_emojis",
        "GET",
        doc=Operation(
            "The custom emoji, Mastodon's way.",
            responses={
                200: answer(
                    array(ref("CustomEmoji")), "Every emoji, shown in pickers.", **_LIST_HEADERS
                ),
                304: _NOT_MODIFIED,
            },
        ),
    )
    async def custom_emojis(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, (await self.emoji.current()).mastodon, LIST_CACHE)

    @plain_route(
        app,
        "/emoji/<path:relpath>",
        "GET",
        doc=Operation(
            "A custom emoji's file.",
            responses={
                200: binary(
                    "The file, with the type of its extension and `nosniff`; cached for a day.",
                    "image/*",
                )
            },
            errors={404: "No emoji of the table has this file."},
        ),
    )
    async def emoji_file(self, request: IRequest, relpath: str) -> bytes:
        found = await self.emoji.read_file(relpath)
        if found is None:
            raise ApiError("Not found", status=404)
        request.setHeader(b"content-type", found.content_type.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % len(found.body))
        request.setHeader(b"cache-control", FILE_CACHE)
        request.setHeader(b"x-content-type-options", b"nosniff")
        return found.body
