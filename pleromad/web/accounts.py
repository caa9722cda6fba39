"""Accounts: the caller's own (verify and update credentials), and finding
one by id or by nickname."""

from __future__ import annotations

from typing import Any

from pleromad.domain import documents, media, profile, remote_actors
from pleromad.errors import BadRequest
from pleromad.model import User
from pleromad.openapi.entities import NO_ACCOUNT
from pleromad.openapi.spec import (
    FILE,
    FLAG,
    STRING,
    Operation,
    answer,
    busy,
    enum,
    map_of,
    note,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import render_accounts
from pleromad.web.params import Params
from pleromad.web.uploads import image_changes

# The pictures update_credentials takes: kind (users column) -> parameter.
PICTURES = {"avatar": "avatar", "banner": "header", "background": "pleroma_background_image"}


PICTURE = note(STRING, 'A base64 `data:` URL, or "" to remove the picture.')


class AccountsApi:
    app = api_app()
    tag = "Accounts"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _account(self, user: User, viewer: User | None, *, for_self: bool = False) -> Any:
        return (await render_accounts(self.rt, [user], viewer, for_self=for_self))[0]

    # Fixed paths before /accounts/<id>, as the reference routes them.

    @route(
        app,
        "/api/v1/accounts/verify_credentials",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The caller's own account, with its settings.",
            responses={200: answer(ref("Account"))},
        ),
    )
    async def verify_credentials(self, call: Call) -> Any:
        return await self._account(call.user, call.user, for_self=True)

    @route(
        app,
        "/api/v1/accounts/update_credentials",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Edit the caller's profile and pictures.",
            description=(
                "Every change is checked before any is stored: a refusal changes"
                " nothing.  Pictures come as multipart files or base64 `data:` URLs."
                "  `pleroma_settings_store` is merged key by key into the stored one."
            ),
            responses={
                200: answer(ref("Account"), "The edited account, as verify_credentials."),
                503: busy("uploads"),
            },
            fields={
                "display_name": note(STRING, '"" clears it (the nickname shows).'),
                "note": STRING,
                "default_scope": enum("public", "unlisted", "private", "direct"),
                "source": {
                    "type": "object",
                    "properties": {"privacy": enum("public", "unlisted", "private", "direct")},
                    "description": "Mastodon's way to set default_scope (used when that is absent).",
                },
                "locked": FLAG,
                "hide_favorites": FLAG,
                "hide_followers": FLAG,
                "hide_follows": FLAG,
                "no_rich_text": FLAG,
                "show_role": FLAG,
                "skip_thread_containment": FLAG,
                "pleroma_settings_store": map_of(ref("Json")),
                "avatar": PICTURE,
                "header": PICTURE,
                "pleroma_background_image": PICTURE,
            },
            files={"avatar": FILE, "header": FILE, "pleroma_background_image": FILE},
            errors={
                404: "The account was deleted meanwhile.",
                413: "The body is over the upload limit, or a picture over its kind's limit.",
                415: "A picture that is not a PNG, JPEG, GIF or WebP image.",
                422: (
                    "A value the instance refuses: display_name or note too long, an"
                    " unknown default_scope, a settings store too large, a picture of"
                    " too many pixels."
                ),
            },
        ),
    )
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
        await documents.send_profile_update(self.rt, user)
        return await self._account(user, user, for_self=True)

    @route(
        app,
        "/api/v1/accounts/lookup",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "An account, by its nickname.",
            description=(
                "Mastodon's lookup: `acct` is `nick`, `@nick` or `nick@our-host`, any"
                " case, never an id, or a remote `nick@host` (found by WebFinger when"
                " not stored yet, for a signed-in reader); the account is rendered as"
                " /api/v1/accounts/{id} renders it."
            ),
            responses={200: answer(ref("Account"))},
            fields={
                "acct": note(STRING, "A nickname (`nick`, `@nick`, `nick@our-host`, `nick@host`).")
            },
            required=("acct",),
            errors={404: "No account the reader may see by that address."},
        ),
    )
    async def lookup(self, call: Call) -> Any:
        """Mastodon's lookup by ``acct`` (a nickname, never an id), rendered
        as /api/v1/accounts/:id renders the account."""
        viewer = call.reader
        acct = call.params.required_str("acct")
        remote = await remote_actors.find_account(self.rt, acct, resolve=viewer is not None)
        user = await profile.lookup_account(self.rt, acct, viewer, remote)
        return await self._account(user, viewer)

    @route(
        app,
        "/api/v1/accounts/<id>",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "An account, by id or nickname.",
            responses={200: answer(ref("Account"))},
            path={"id": note(STRING, "An id, or a nickname (`nick`, `@nick`, `nick@our-host`).")},
            errors={404: NO_ACCOUNT},
        ),
    )
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
