"""Accounts: the caller's own (verify and update credentials), and finding
one by id or by nickname."""

from __future__ import annotations

from typing import Any

from pleromad.domain import media, profile
from pleromad.errors import BadRequest
from pleromad.runtime import Runtime
from pleromad.store.users import User
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import render_accounts
from pleromad.web.params import Params
from pleromad.web.uploads import image_changes

# The pictures update_credentials takes: kind (users column) -> parameter.
PICTURES = {"avatar": "avatar", "banner": "header", "background": "pleroma_background_image"}


class AccountsApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _account(self, user: User, viewer: User | None, *, for_self: bool = False) -> Any:
        return (await render_accounts(self.rt, [user], viewer, for_self=for_self))[0]

    # Fixed paths before /accounts/<id>, as the reference routes them.

    @route(app, "/api/v1/accounts/verify_credentials", "GET", auth=Auth.REQUIRED, scope="read")
    async def verify_credentials(self, call: Call) -> Any:
        return await self._account(call.user, call.user, for_self=True)

    @route(app, "/api/v1/accounts/update_credentials", "PATCH", auth=Auth.REQUIRED, scope="write")
    async def update_credentials(self, call: Call) -> Any:
        # Mastodon's fields_attributes and bot are ignored, as the reference did.
        params = call.params
        # Pictures are checked before anything changes, and stored after the
        # profile edit passed its checks: a refusal of either stores nothing.
        pictures = await media.check_profile_images(self.rt, await image_changes(params, PICTURES))
        edit = profile.ProfileEdit(
            display_name=params.str("display_name"),
            note=params.str("note"),
            default_scope=_default_scope(params),
            flags={
                name: value for name in profile.FLAGS if (value := params.bool(name)) is not None
            },
            settings_store=_object(params, "pleroma_settings_store"),
        )
        user = await profile.edit_profile(self.rt, call.user, edit)
        user = await media.apply_profile_images(self.rt, user, pictures)
        return await self._account(user, user, for_self=True)

    @route(app, "/api/v1/accounts/lookup", "GET", auth=Auth.READ_OR_PUBLIC)
    async def lookup(self, call: Call) -> Any:
        """Mastodon's lookup by ``acct`` (a nickname, never an id), rendered
        as /api/v1/accounts/:id renders the account."""
        viewer = call.reader
        user = await profile.lookup_account(self.rt, call.params.required_str("acct"), viewer)
        return await self._account(user, viewer)

    @route(app, "/api/v1/accounts/<id>", "GET", auth=Auth.READ_OR_PUBLIC)
    async def account(self, call: Call) -> Any:
        viewer = call.reader
        user = await profile.find_account(self.rt, call.params.required_str("id"), viewer)
        return await self._account(user, viewer)


def _default_scope(params: Params) -> str | None:
    """``default_scope``, or Mastodon's ``source[privacy]`` that modern clients send."""
    scope = params.str("default_scope")
    if scope is None:
        source = params.get("source")
        if isinstance(source, dict) and isinstance(source.get("privacy"), str):
            scope = source["privacy"]
    return scope


def _object(params: Params, name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None or isinstance(value, dict):
        return value
    raise BadRequest(f"Invalid value for {name}: expected an object")
