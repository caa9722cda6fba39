"""`/api/v1/pleroma/*`: Pleroma's extensions of the Mastodon API."""

from __future__ import annotations

from typing import Any

from pleromad.domain import media, relationships
from pleromad.errors import MissingField
from pleromad.runtime import Runtime
from pleromad.views.images import image_url
from pleromad.views.media import render_attachment, render_default_mascot
from pleromad.web.accounts import relate
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.media import image_or_clear, incoming
from pleromad.web.timelines import account_favourites
from pleromad.web.twitter import resend_confirmation


class PleromaV1Api:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/pleroma/accounts/confirmation_resend", "POST")
    async def confirmation_resend(self, call: Call) -> Any:
        return await resend_confirmation(self.rt, call)

    # -- subscriptions (DECISIONS 16) --

    @route(
        app,
        "/api/v1/pleroma/accounts/<id>/subscribe",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
    )
    async def subscribe(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.subscribe)

    @route(
        app,
        "/api/v1/pleroma/accounts/<id>/unsubscribe",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
    )
    async def unsubscribe(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.unsubscribe)

    @route(app, "/api/v1/pleroma/accounts/<id>/favourites", "GET", auth=Auth.READ_OR_PUBLIC)
    async def favourites(self, call: Call) -> Any:
        return await account_favourites(self.rt, call)

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
