"""Media: uploads (`/api/v1/media`, `/api/v2/media`), serving them (`/media/*`),
the bundled images (`/images/*`: default avatar, banner and mascot), and
the pictures of an account (DECISIONS 18, 19): avatar, banner, background
and mascot.

Stored files are served with a type the server chose from their bytes when
they were uploaded (their extension is ours, never the client's), with
``nosniff`` and a sandboxing CSP, and as a download unless they are images,
audio or video: an uploaded HTML page or SVG never runs in our origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.web.iweb import IRequest
from twisted.web.static import File

import pleromad
from pleromad.domain import documents, media
from pleromad.errors import ApiError, MissingField
from pleromad.media.images import served_inline, served_type
from pleromad.media.interface import ILocalFiles
from pleromad.openapi.spec import (
    FILE,
    STRING,
    Operation,
    Response,
    Schema,
    answer,
    binary,
    busy,
    closed,
    no_content,
    nullable,
    present,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.images import image_url
from pleromad.views.media import render_attachment, render_default_mascot
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, plain_route, route
from pleromad.web.uploads import image_or_clear, incoming

IMAGES_DIR = Path(pleromad.__file__).parent / "static" / "images"
BUNDLED_IMAGES = frozenset({"avi.png", "banner.png", "mascot.png"})

# Stored names are unguessable and never reused: caches may keep them for good.
_STORED_CACHE = "public, max-age=31536000, immutable"
_BUNDLED_CACHE = "public, max-age=86400"


_MINE = "The id names no attachment the reader uploaded."

_DESCRIPTION: Schema = {**STRING, "description": "Alt text, at most 5000 characters."}

_UPLOAD = Operation(
    "Upload an attachment.",
    responses={
        200: answer(ref("Attachment"), "The stored attachment, ready to post."),
        503: busy("uploads"),
    },
    fields={
        "description": {
            **_DESCRIPTION,
            "description": "Alt text, at most 5000 characters; by default the file's name.",
        }
    },
    files={"file": FILE},
    required=("file",),
    description=(
        "Any kind of file up to the instance's upload limit; an image must"
        " decode.  Its type is decided from its bytes, never from the name or"
        " the type the client gives."
    ),
    errors={
        404: "The account was deleted while the file was stored.",
        413: "The file is over the instance's upload limit (`file_too_large`), or"
        " the body over the body limit.",
        422: "An image that does not decode or has too many pixels, or a description"
        " that is too long.",
    },
)

_FILE_ANSWERS: dict[int, Response] = {
    206: binary("The ranges asked for with `Range`.", "*/*"),
    304: no_content("Not modified since `If-Modified-Since`."),
    416: no_content("A `Range` outside the file."),
}

PICTURE_ERRORS = {
    400: "Malformed parameters, no picture field, or neither a file nor a base64 data: URL.",
    404: "The account is gone.",
    413: "The body is over the upload limit, or the picture over the limit of its kind.",
    415: "Not a PNG, JPEG, GIF or WebP image.",
    422: "An image of too many pixels.",
}


def _picture(what: str, field: str) -> Operation:
    return Operation(
        f"Set or clear the {what}.",
        responses={
            200: answer(
                closed({"url": nullable(STRING)}), f"The {what}'s address; null once cleared."
            ),
            503: busy("uploads"),
        },
        fields={field: {"type": "string", "description": 'A base64 data: URL, or "" to clear.'}},
        files={field: FILE},
        required=(field,),
        errors=PICTURE_ERRORS,
    )


class MediaApi:
    app = api_app()
    tag = "Media"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/media", "POST", auth=Auth.REQUIRED, scope="write", doc=_UPLOAD)
    async def upload(self, call: Call) -> Any:
        return await self._upload(call)

    @route(
        app,
        "/api/v2/media",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            _UPLOAD.summary,
            responses=_UPLOAD.responses,
            fields=_UPLOAD.fields,
            files=_UPLOAD.files,
            required=_UPLOAD.required,
            description=f"{_UPLOAD.description}  Always 200: the file is processed before the answer.",
            errors=_UPLOAD.errors,
        ),
    )
    async def upload_v2(self, call: Call) -> Any:
        # Processing is done before the answer, so always 200 (DECISIONS 25).
        return await self._upload(call)

    async def _upload(self, call: Call) -> Any:
        upload = call.params.file("file")
        if upload is None:
            raise MissingField("file")
        stored = await media.upload_media(
            self.rt, call.user, incoming(upload), call.params.str("description")
        )
        return render_attachment(stored)

    @route(
        app,
        "/api/v1/media/<id>",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "One of the reader's attachments.",
            responses={200: answer(ref("Attachment"))},
            errors={404: _MINE},
        ),
    )
    async def show(self, call: Call) -> Any:
        found = await media.get_media(self.rt, call.user, call.params.required_str("id"))
        return render_attachment(found)

    @route(
        app,
        "/api/v1/media/<id>",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Describe one of the reader's attachments.",
            responses={200: answer(ref("Attachment"), "The attachment as it is now.")},
            fields={
                "description": {
                    **_DESCRIPTION,
                    "description": "Alt text, at most 5000 characters; absent: unchanged.",
                }
            },
            errors={404: _MINE, 422: "A description that is too long."},
        ),
    )
    async def describe(self, call: Call) -> Any:
        updated = await media.describe_media(
            self.rt, call.user, call.params.required_str("id"), call.params.str("description")
        )
        return render_attachment(updated)

    # -- profile pictures and mascot (DECISIONS 18, 19) --

    @route(
        app,
        "/api/v1/pleroma/accounts/update_avatar",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_picture("avatar", "img"),
    )
    async def update_avatar(self, call: Call) -> Any:
        return await self._set_picture(call, "avatar", "img")

    @route(
        app,
        "/api/v1/pleroma/accounts/update_banner",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_picture("banner", "banner"),
    )
    async def update_banner(self, call: Call) -> Any:
        return await self._set_picture(call, "banner", "banner")

    @route(
        app,
        "/api/v1/pleroma/accounts/update_background",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_picture("background image", "img"),
    )
    async def update_background(self, call: Call) -> Any:
        return await self._set_picture(call, "background", "img")

    async def _set_picture(self, call: Call, kind: str, param: str) -> Any:
        picture = await image_or_clear(call.params, param)
        user = await media.set_profile_image(self.rt, call.user, kind, picture)
        await documents.send_profile_update(self.rt, user)
        return {"url": image_url(getattr(user, kind))}

    @route(
        app,
        "/api/v1/pleroma/mascot",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The caller's mascot, or the instance's default one.",
            responses={200: answer(ref("Attachment"))},
        ),
    )
    async def mascot(self, call: Call) -> Any:
        chosen = await media.get_mascot(self.rt, call.user)
        if chosen is None:
            return render_default_mascot(self.rt.config.server.base_url)
        return render_attachment(chosen)

    @route(
        app,
        "/api/v1/pleroma/mascot",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Set the caller's mascot.",
            responses={200: answer(ref("Attachment"), "The new mascot."), 503: busy("uploads")},
            files={"file": FILE, "image": {**FILE, "description": "Read when there is no file."}},
            any_of=(present("file"), present("image")),
            errors={
                400: "Malformed parameters, or no file (`Missing field: file`).",
                404: "The account is gone.",
                413: "The body, or the file, is over the upload limit.",
                415: "Not an image (`mascots can only be images`).",
                422: "An image of too many pixels.",
            },
        ),
    )
    async def set_mascot(self, call: Call) -> Any:
        upload = call.params.file("file") or call.params.file("image")
        if upload is None:
            raise MissingField("file")
        return render_attachment(await media.set_mascot(self.rt, call.user, incoming(upload)))

    # -- the files --

    @plain_route(
        app,
        "/media/<path:path>",
        "GET",
        "HEAD",
        doc=Operation(
            "A stored file.",
            responses={
                200: binary(
                    "The file, with the type decided when it was stored, `nosniff` and a"
                    " sandboxing CSP; anything but images, audio and video as a download.",
                    "*/*",
                ),
                **_FILE_ANSWERS,
            },
            description="Cached for a year: stored names are never reused.",
            errors={404: "No stored file has this path."},
        ),
    )
    def stored_file(self, request: IRequest, path: str) -> Any:
        uploader = self.rt.uploader
        found = uploader.local_file(path) if ILocalFiles.providedBy(uploader) else None
        if found is None:
            raise ApiError("Not found", status=404)
        content_type = served_type(found.suffix.lstrip("."))
        request.setHeader(b"cache-control", _STORED_CACHE.encode("ascii"))
        if not served_inline(content_type):
            # The name is [A-Za-z0-9._-] only (see pleromad.media.interface).
            request.setHeader(
                b"content-disposition", f'attachment; filename="{found.name}"'.encode("ascii")
            )
        return _file(request, found, content_type)

    @plain_route(
        app,
        "/images/<name>",
        "GET",
        "HEAD",
        doc=Operation(
            "A bundled image: avi.png, banner.png or mascot.png.",
            responses={
                200: binary("The image.", "image/png"),
                **_FILE_ANSWERS,
            },
            path={"name": {"type": "string", "enum": ["avi.png", "banner.png", "mascot.png"]}},
            description="The default avatar, banner and mascot.",
            errors={404: "Not one of the bundled images."},
        ),
    )
    def bundled_image(self, request: IRequest, name: str) -> Any:
        if name not in BUNDLED_IMAGES:
            raise ApiError("Not found", status=404)
        request.setHeader(b"cache-control", _BUNDLED_CACHE.encode("ascii"))
        return _file(request, IMAGES_DIR / name, "image/png")


def _file(request: IRequest, path: Path, content_type: str) -> File:
    """``path`` as twisted.web serves files: by a producer reading it as the
    client takes it (never whole on the reactor), with ranges."""
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"content-security-policy", b"sandbox; default-src 'none'")
    resource = File(str(path))
    resource.type, resource.encoding = content_type, None
    # Served as it is, whatever path segments follow.
    request.postpath = []
    return resource
