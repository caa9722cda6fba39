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
from pleromad.domain import media
from pleromad.errors import ApiError, MissingField
from pleromad.media.images import served_type
from pleromad.media.interface import ILocalFiles
from pleromad.runtime import Runtime
from pleromad.views.images import image_url
from pleromad.views.media import render_attachment, render_default_mascot
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.uploads import image_or_clear, incoming

IMAGES_DIR = Path(pleromad.__file__).parent / "static" / "images"
BUNDLED_IMAGES = frozenset({"avi.png", "banner.png", "mascot.png"})

# Stored names are unguessable and never reused: caches may keep them for good.
_STORED_CACHE = "public, max-age=31536000, immutable"
_BUNDLED_CACHE = "public, max-age=86400"
_INLINE_KINDS = ("image/", "video/", "audio/")


class MediaApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/media", "POST", auth=Auth.REQUIRED, scope="write")
    async def upload(self, call: Call) -> Any:
        return await self._upload(call)

    @route(app, "/api/v2/media", "POST", auth=Auth.REQUIRED, scope="write")
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

    @route(app, "/api/v1/media/<id>", "GET", auth=Auth.REQUIRED, scope="read")
    async def show(self, call: Call) -> Any:
        found = await media.get_media(self.rt, call.user, call.params.required_str("id"))
        return render_attachment(found)

    @route(app, "/api/v1/media/<id>", "PUT", auth=Auth.REQUIRED, scope="write")
    async def describe(self, call: Call) -> Any:
        updated = await media.describe_media(
            self.rt, call.user, call.params.required_str("id"), call.params.str("description")
        )
        return render_attachment(updated)

    # -- profile pictures and mascot (DECISIONS 18, 19) --

    @route(
        app, "/api/v1/pleroma/accounts/update_avatar", "PATCH", auth=Auth.REQUIRED, scope="write"
    )
    async def update_avatar(self, call: Call) -> Any:
        return await self._set_picture(call, "avatar", "img")

    @route(
        app, "/api/v1/pleroma/accounts/update_banner", "PATCH", auth=Auth.REQUIRED, scope="write"
    )
    async def update_banner(self, call: Call) -> Any:
        return await self._set_picture(call, "banner", "banner")

    @route(
        app,
        "/api/v1/pleroma/accounts/update_background",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
    )
    async def update_background(self, call: Call) -> Any:
        return await self._set_picture(call, "background", "img")

    async def _set_picture(self, call: Call, kind: str, param: str) -> Any:
        picture = await image_or_clear(call.params, param)
        user = await media.set_profile_image(self.rt, call.user, kind, picture)
        return {"url": image_url(getattr(user, kind))}

    @route(app, "/api/v1/pleroma/mascot", "GET", auth=Auth.REQUIRED, scope="read")
    async def mascot(self, call: Call) -> Any:
        chosen = await media.get_mascot(self.rt, call.user)
        if chosen is None:
            return render_default_mascot(self.rt.config.server.base_url)
        return render_attachment(chosen)

    @route(app, "/api/v1/pleroma/mascot", "PUT", auth=Auth.REQUIRED, scope="write")
    async def set_mascot(self, call: Call) -> Any:
        upload = call.params.file("file") or call.params.file("image")
        if upload is None:
            raise MissingField("file")
        return render_attachment(await media.set_mascot(self.rt, call.user, incoming(upload)))

    # -- the files --

    @app.route("/media/<path:path>", methods=["GET", "HEAD"], merge_slashes=False)
    def stored_file(self, request: IRequest, path: str) -> Any:
        uploader = self.rt.uploader
        found = uploader.local_file(path) if ILocalFiles.providedBy(uploader) else None
        if found is None:
            raise ApiError("Not found", status=404)
        content_type = served_type(found.suffix.lstrip("."))
        request.setHeader(b"cache-control", _STORED_CACHE.encode("ascii"))
        if not content_type.startswith(_INLINE_KINDS):
            # The name is [A-Za-z0-9._-] only (see pleromad.media.interface).
            request.setHeader(
                b"content-disposition", f'attachment; filename="{found.name}"'.encode("ascii")
            )
        return _file(request, found, content_type)

    @app.route("/images/<name>", methods=["GET", "HEAD"], merge_slashes=False)
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
