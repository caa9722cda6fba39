"""``/api/pleroma/admin/*``: the Admin API (mastodon-subset §4.1–§4.3).

Every route needs an admin's credentials holding the ``write`` scope (GETs
included, as in the reference); anyone else gets 403.  Rules live in
:mod:`pleromad.domain.admin`.
"""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.domain import admin, lifecycle
from pleromad.errors import BadRequest
from pleromad.model import Invite, User
from pleromad.runtime import Runtime
from pleromad.views.images import avatar_url
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.params import Params

PREFIX = "/api/pleroma/admin"
NO_CONTENT = JsonResponse("", 204)


def render_admin_user(user: User, config: Config) -> dict[str, Any]:
    """The Admin API's user object."""
    return {
        "id": str(user.id),
        "avatar": avatar_url(user, config.server.base_url),
        "nickname": user.nickname,
        "display_name": user.display_name,
        "deactivated": user.deactivated,
        "local": user.local,
        "roles": {"admin": user.is_admin, "moderator": user.is_moderator},
        "tags": list(user.tags),
    }


def render_invite(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "token": invite.token,
        "used": invite.used,
        "expires_at": invite.expires_at.isoformat() if invite.expires_at else None,
        "uses": invite.uses,
        "max_use": invite.max_use,
        "invite_type": invite.invite_type,
    }


def _nested(params: Params, outer: str, inner: str) -> Any:
    """``invite[max_use]`` (a map entry) or a plain ``max_use``."""
    value = params.get(outer, None)
    if isinstance(value, dict) and inner in value:
        return value[inner]
    return params.get(inner, None)


def _new_account(entry: Any) -> lifecycle.NewAccount:
    if not isinstance(entry, dict):
        raise BadRequest("Invalid value for users: expected objects")
    fields = {}
    for name in ("nickname", "email", "password"):
        value = entry.get(name)
        if value is None or value == "":
            raise BadRequest(f"Missing field: {name}")
        if not isinstance(value, str):
            raise BadRequest(f"Invalid value for {name}: expected a string")
        fields[name] = value
    return lifecycle.NewAccount(bio=".", **fields)


class AdminApi:
    app = api_app()
    prefixes = (PREFIX,)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _admin(self, call: Call) -> User:
        admin.require_admin(call.user)
        return call.user

    def _user_json(self, user: User) -> dict[str, Any]:
        return render_admin_user(user, self.rt.config)

    # -- users ------------------------------------------------------------------

    @route(app, f"{PREFIX}/users", "GET", auth=Auth.REQUIRED, scope="write")
    async def list_users(self, call: Call) -> Any:
        self._admin(call)
        page, page_size = admin.page_args(call.params.int("page"), call.params.int("page_size"))
        found = await admin.list_users(
            self.rt,
            call.params.str("query"),
            admin.parse_filters(call.params.str("filters")),
            page,
            page_size,
        )
        return {
            "users": [self._user_json(u) for u in found.users],
            "count": found.count,
            "page_size": found.page_size,
        }

    @route(app, f"{PREFIX}/users", "POST", auth=Auth.REQUIRED, scope="write")
    async def create_users(self, call: Call) -> Any:
        actor = self._admin(call)
        batch = call.params.get("users", None)
        if batch is not None:
            if not isinstance(batch, list):
                raise BadRequest("Invalid value for users: expected a list")
            created = await admin.create_users(self.rt, actor, [_new_account(e) for e in batch])
            return [
                {"code": 200, "type": "success", "data": {"nickname": u.nickname, "email": u.email}}
                for u in created
            ]
        account = _new_account(
            {name: call.params.required_str(name) for name in ("nickname", "email", "password")}
        )
        (user,) = await admin.create_users(self.rt, actor, [account])
        return user.nickname

    @route(app, f"{PREFIX}/users", "DELETE", auth=Auth.REQUIRED, scope="write")
    async def delete_user(self, call: Call) -> Any:
        actor = self._admin(call)
        user = await admin.delete_user(self.rt, actor, call.params.required_str("nickname"))
        return user.nickname

    @route(app, f"{PREFIX}/users/tag", "PUT", "DELETE", auth=Auth.REQUIRED, scope="write")
    async def tag_users(self, call: Call) -> Any:
        actor = self._admin(call)
        await admin.change_tags(
            self.rt,
            actor,
            call.params.list("nicknames"),
            call.params.list("tags"),
            add=call.request.method == b"PUT",
        )
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/users/<nickname>/toggle_activation",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
    )
    async def toggle_activation(self, call: Call) -> Any:
        actor = self._admin(call)
        return self._user_json(
            await admin.toggle_activation(self.rt, actor, call.params.required_str("nickname"))
        )

    @route(
        app,
        f"{PREFIX}/permission_group/<group>",
        "POST",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
    )
    async def group_of_many(self, call: Call) -> Any:
        return await self._set_group(call, call.params.list("nicknames"))

    @route(
        app,
        f"{PREFIX}/users/<nickname>/permission_group/<group>",
        "POST",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
    )
    async def group_of_one(self, call: Call) -> Any:
        return await self._set_group(call, [call.params.required_str("nickname")])

    async def _set_group(self, call: Call, nicknames: list[str]) -> Any:
        actor = self._admin(call)
        group = call.params.required_str("group")
        granted = call.request.method == b"POST"
        await admin.set_group(self.rt, actor, nicknames, group, granted)
        return {f"is_{group}": granted}

    @route(
        app, f"{PREFIX}/users/<nickname>/permission_group", "GET", auth=Auth.REQUIRED, scope="write"
    )
    async def groups(self, call: Call) -> Any:
        return await self._groups(call)

    @route(
        app,
        f"{PREFIX}/users/<nickname>/permission_group/<group>",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
    )
    async def groups_any(self, call: Call) -> Any:
        return await self._groups(call)  # the group is ignored, as in the reference

    async def _groups(self, call: Call) -> Any:
        self._admin(call)
        user = await admin.find_user(self.rt, call.params.required_str("nickname"))
        return {"is_moderator": user.is_moderator, "is_admin": user.is_admin}

    # -- invites and password resets ---------------------------------------------

    @route(app, f"{PREFIX}/users/invite_token", "GET", "POST", auth=Auth.REQUIRED, scope="write")
    async def invite_token(self, call: Call) -> Any:
        actor = self._admin(call)
        max_use = _int(_nested(call.params, "invite", "max_use"), "max_use")
        expires_at = _nested(call.params, "invite", "expires_at")
        if expires_at is not None and not isinstance(expires_at, str):
            raise BadRequest("Invalid value for expires_at: expected a date YYYY-MM-DD")
        invite = await admin.create_invite(
            self.rt,
            actor,
            admin.parse_max_use(max_use),
            admin.parse_expires_at(expires_at, admin.today(self.rt)),
        )
        return invite.token

    @route(app, f"{PREFIX}/users/invites", "GET", auth=Auth.REQUIRED, scope="write")
    async def invites(self, call: Call) -> Any:
        self._admin(call)
        return {"invites": [render_invite(i) for i in await admin.list_invites(self.rt)]}

    @route(app, f"{PREFIX}/users/revoke_invite", "POST", auth=Auth.REQUIRED, scope="write")
    async def revoke_invite(self, call: Call) -> Any:
        actor = self._admin(call)
        return render_invite(
            await admin.revoke_invite(self.rt, actor, call.params.required_str("token"))
        )

    @route(app, f"{PREFIX}/users/email_invite", "POST", auth=Auth.REQUIRED, scope="write")
    async def email_invite(self, call: Call) -> Any:
        actor = self._admin(call)
        await admin.email_invite(
            self.rt, actor, call.params.required_str("email"), call.params.str("name")
        )
        return NO_CONTENT

    @route(
        app, f"{PREFIX}/users/<nickname>/password_reset", "GET", auth=Auth.REQUIRED, scope="write"
    )
    async def password_reset(self, call: Call) -> Any:
        actor = self._admin(call)
        link = await admin.password_reset_link(self.rt, actor, call.params.required_str("nickname"))
        return {"token": link.rsplit("/", 1)[1], "link": link}

    # Last: the catch-all for one user.
    @route(app, f"{PREFIX}/users/<nickname>", "GET", auth=Auth.REQUIRED, scope="write")
    async def show_user(self, call: Call) -> Any:
        self._admin(call)
        return self._user_json(await admin.find_user(self.rt, call.params.required_str("nickname")))


def _int(value: Any, name: str) -> int | None:
    return Params({name: value}).int(name)
