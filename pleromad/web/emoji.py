"""Custom emoji: `/api/pleroma/emoji`, `/api/v1/custom_emojis` and the files at `/emoji/*`.

The two lists are the current table's prebuilt bytes (see
:mod:`pleromad.emoji.table`), answered below the router (see
:mod:`pleromad.web.prebuilt`) with an ETag and a short public cache; a
matching ``If-None-Match`` gets 304; a reloaded table is served from the
next request on.  Files are served only if they belong to an emoji of the
table, with a long cache, ``nosniff`` and the content type of their
extension.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.web.iweb import IRequest

from pleromad.emoji import EmojiSet, EmojiTable
from pleromad.errors import ApiError
from pleromad.openapi.spec import Operation, answer, array, binary, map_of, no_content, ref
from pleromad.runtime import Runtime
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app, plain_route
from pleromad.web.prebuilt import NOT_MODIFIED_DOC, Source, prebuilt_route

LIST_CACHE = b"public, max-age=300"
FILE_CACHE = b"public, max-age=86400"


_LIST_HEADERS = {
    "ETag": "The list's entity tag.",
    "Cache-Control": "Public, for 5 minutes.",
}

_NOT_MODIFIED = no_content(NOT_MODIFIED_DOC, **_LIST_HEADERS)


@dataclass(frozen=True)
class EmojiList:
    """One of the table's lists, as a prebuilt answer's source."""

    emoji: EmojiSet
    pick: Callable[[EmojiTable], Prebuilt]

    def peek(self) -> Prebuilt | None:
        table = self.emoji.loaded
        return None if table is None else self.pick(table)

    async def get(self) -> Prebuilt:
        return self.pick(await self.emoji.current())


class EmojiApi:
    app = api_app()
    tag = "Emoji"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._pleroma = EmojiList(rt.emoji, lambda table: table.pleroma)
        self._mastodon = EmojiList(rt.emoji, lambda table: table.mastodon)

    @property
    def emoji(self) -> EmojiSet:
        return self.rt.emoji

    @prebuilt_route(
        app,
        "/api/pleroma/emoji",
        cache_control=LIST_CACHE,
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
    def pleroma_emoji(self) -> Source:
        return self._pleroma

    @prebuilt_route(
        app,
        "/api/v1/custom_emojis",
        cache_control=LIST_CACHE,
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
    def custom_emojis(self) -> Source:
        return self._mastodon

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
