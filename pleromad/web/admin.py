"""``/api/pleroma/admin/*``: the Admin API (mastodon-subset §4.1–§4.3).

Every route needs an admin's credentials holding the ``write`` scope (GETs
included, as in the reference); anyone else gets 403.  Rules live in
:mod:`pleromad.domain.admin`.
"""

from __future__ import annotations

from typing import Any

from pleromad.domain import admin, lifecycle, reports
from pleromad.errors import BadRequest, MissingField
from pleromad.ids import parse_id
from pleromad.model import Invite, Loaded, User
from pleromad.openapi.entities import EMAIL_FIELD, NICKNAME_FIELD
from pleromad.openapi.spec import (
    BOOLEAN,
    FLAG,
    ID,
    INTEGER,
    NON_BLANK,
    STRING,
    Operation,
    answer,
    array,
    closed,
    enum,
    no_content,
    present,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.admin import render_admin_user, render_report
from pleromad.views.statuses import render_statuses
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.params import Params

PREFIX = "/api/pleroma/admin"
NO_CONTENT = JsonResponse("", 204)


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
    fields: dict[str, str] = {}
    for name in ("nickname", "email", "password"):
        value = entry.get(name)
        if value is None or value == "":
            raise BadRequest(f"Missing field: {name}")
        if not isinstance(value, str):
            raise BadRequest(f"Invalid value for {name}: expected a string")
        fields[name] = value
    return lifecycle.NewAccount(
        nickname=fields["nickname"], email=fields["email"], password=fields["password"], bio="."
    )


NOT_ADMIN = (
    "Invalid credentials, a token without `write`, or an account that is not an admin"
    " (`User is not admin.`)."
)

NOT_STAFF = (
    "Invalid credentials, a token without `write`, or an account that is neither an admin nor"
    " a moderator (`User is not a staff member.`)."
)

NO_STATUS = "No status has that id (`Record not found`)."
NO_REPORT = "No report has that id (`Record not found`)."

NO_USER = "No (undeleted) account has that nickname or id (`Record not found`)."

GROUP = {**enum("admin", "moderator"), "description": "Any other is a 404."}
MAX_USE = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
NICKNAMES = {**array(STRING), "minItems": 1}

NICKNAME = {"type": "string", "description": "A nickname, or an account id."}

NEW_ACCOUNT = closed({"nickname": NICKNAME_FIELD, "email": EMAIL_FIELD, "password": NON_BLANK})


def _groups() -> Operation:
    return Operation(
        "The account's roles.",
        responses={200: answer(closed({"is_moderator": BOOLEAN, "is_admin": BOOLEAN}))},
        path={"nickname": NICKNAME},
        errors={403: NOT_ADMIN, 404: NO_USER},
    )


def _group_change(granted: bool, many: bool) -> Operation:
    verb = "Grant" if granted else "Revoke"
    whom = "the accounts `nicknames` lists" if many else "the account in the path"
    errors = {
        403: NOT_ADMIN,
        404: "No such group, or no such account (nothing changes).",
    }
    if many:
        errors[400] = "Malformed parameters, or no nicknames."
    if not granted:
        errors[403] = (
            NOT_ADMIN[:-1] + "; or the admin named themself"
            " (`You can't revoke your own admin status.`)."
        )
    return Operation(
        f"{verb} a permission group for {whom}.",
        responses={
            200: answer(
                {
                    "anyOf": [
                        closed({f"is_{group}": {"const": granted}})
                        for group in ("admin", "moderator")
                    ]
                },
                f'`{{"is_<group>": {str(granted).lower()}}}`.',
            )
        },
        fields={"nicknames": NICKNAMES} if many else {},
        required=("nicknames",) if many else (),
        path={"group": GROUP, **({} if many else {"nickname": NICKNAME})},
        errors=errors,
        description=(
            None
            if not many
            else "An empty `nicknames` is a 400; every nickname is looked up before any change."
        ),
    )


def _tags(add: bool) -> Operation:
    return Operation(
        ("Add tags to" if add else "Remove tags from") + " accounts.",
        responses={204: no_content()},
        fields={"nicknames": NICKNAMES, "tags": {**array(NON_BLANK), "minItems": 1}},
        required=("nicknames", "tags"),
        errors={
            400: "Malformed parameters, no nicknames, or no tags or an empty one.",
            403: NOT_ADMIN,
            404: "One of the nicknames names no account (nothing changes).",
        },
        description="Tags are lower-cased" + (" and added once." if add else "."),
    )


def _invite_token(method: str) -> Operation:
    return Operation(
        "Create an invite; answers its token.",
        responses={200: answer(STRING, "The new invite's token, as a JSON string.")},
        fields={
            "invite": closed(
                {"max_use": MAX_USE, "expires_at": {"type": "string", "format": "date"}},
                optional=("max_use", "expires_at"),
            ),
            "max_use": MAX_USE,
            "expires_at": {"type": "string", "format": "date"},
        },
        errors={
            400: (
                "Malformed parameters: a max_use below 1, or an expires_at that is not a"
                " YYYY-MM-DD date or is in the past."
            ),
            403: NOT_ADMIN,
        },
        description=(
            "`invite[max_use]`/`invite[expires_at]` win over the plain names; without either"
            " the invite is for one use."
            + ("  A GET creates one too, as in the reference." if method == "GET" else "")
        ),
    )


def _activation(active: bool) -> Operation:
    return Operation(
        ("Activate" if active else "Deactivate") + " the accounts `nicknames` lists.",
        responses={
            200: answer(closed({"users": array(ref("AdminUser"))}), "Them, as they are now.")
        },
        fields={"nicknames": NICKNAMES},
        required=("nicknames",),
        errors={
            400: "Malformed parameters, or no nicknames.",
            403: NOT_ADMIN,
            404: "One of the nicknames names no account (nothing changes).",
        },
        description=None if active else "Deactivating also revokes every token of the accounts.",
    )


def _force_follow(follow: bool) -> Operation:
    verb = "follow" if follow else "unfollow"
    return Operation(
        f"Make `follower` {verb} `followed`.",
        responses={200: answer({"const": "ok"}, 'The JSON string `"ok"`.')},
        fields={"follower": NICKNAME, "followed": NICKNAME},
        required=("follower", "followed"),
        errors={
            400: "Malformed parameters, or the same account twice.",
            403: NOT_ADMIN + ("  Or the followed account blocks the follower." if follow else ""),
            404: "No such account.",
        },
        description=(
            "As if the follower had asked: a locked account gets a follow request."
            if follow
            else "Also withdraws a pending request."
        ),
    )


REPORT_STATES = ("open", "resolved", "closed")
PAGE_FIELDS = {
    "page": {"type": "integer", "minimum": 1, "description": "Default 1."},
    "page_size": {
        "type": "integer",
        "minimum": 1,
        "description": "Default 50; more than 500 counts as 500.",
    },
}


class AdminApi:
    app = api_app()
    tag = "Admin"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _admin(self, call: Call) -> User:
        admin.require_admin(call.user)
        return call.user

    def _staff(self, call: Call) -> User:
        admin.require_staff(call.user)
        return call.user

    def _statuses_json(self, loaded: Loaded) -> list[dict[str, Any]]:
        """Statuses as staff see them: every account shown, whatever it hides."""
        return render_statuses(loaded, config=self.rt.config, viewer=None, hidden=())

    def _user_json(self, user: User) -> dict[str, Any]:
        return render_admin_user(user, self.rt.config)

    # -- users ------------------------------------------------------------------

    @route(
        app,
        f"{PREFIX}/users",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "A page of accounts, ordered by nickname.",
            responses={
                200: answer(
                    closed(
                        {"users": array(ref("AdminUser")), "count": INTEGER, "page_size": INTEGER}
                    ),
                    "count is every matching account, not only this page.",
                )
            },
            fields={
                "query": {"type": "string", "description": "A substring of the nickname."},
                "name": {"type": "string", "description": "A substring of the display name."},
                "email": {"type": "string", "description": "The e-mail address (any case)."},
                "tags": {**array(STRING), "description": "Accounts with any of these tags."},
                "filters": {
                    "type": "string",
                    "description": (
                        "A comma list of local, external, active, deactivated, is_admin,"
                        " is_moderator; any other name is a 400."
                    ),
                },
                "page": {"type": "integer", "minimum": 1, "description": "Default 1."},
                "page_size": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Default 50; more than 500 counts as 500.",
                },
            },
            errors={
                400: "Malformed parameters, an unknown filter, or a page or page_size below 1.",
                403: NOT_ADMIN,
            },
            description="Every criterion given must hold.",
        ),
    )
    async def list_users(self, call: Call) -> Any:
        self._admin(call)
        page, page_size = admin.page_args(call.params.int("page"), call.params.int("page_size"))
        search = admin.UserSearch(
            query=call.params.str("query"),
            filters=admin.parse_filters(call.params.str("filters")),
            name=call.params.str("name") or None,
            email=call.params.str("email") or None,
            tags=tuple(admin.clean_tags(tags)) if (tags := call.params.list("tags")) else (),
        )
        found = await admin.list_users(self.rt, search, page, page_size)
        return {
            "users": [self._user_json(u) for u in found.users],
            "count": found.count,
            "page_size": found.page_size,
        }

    @route(
        app,
        f"{PREFIX}/users",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Create confirmed local accounts.",
            responses={
                200: answer(
                    {
                        "anyOf": [
                            {
                                "type": "string",
                                "description": "The nickname created (one account).",
                            },
                            array(
                                closed(
                                    {
                                        "code": {"const": 200},
                                        "type": {"const": "success"},
                                        "data": closed({"nickname": STRING, "email": STRING}),
                                    }
                                )
                            ),
                        ]
                    },
                    "A JSON string for one account; a list, in order, for `users`.",
                )
            },
            fields={
                "users": {**array(NEW_ACCOUNT), "minItems": 1},
                "nickname": NICKNAME_FIELD,
                "email": EMAIL_FIELD,
                "password": NON_BLANK,
            },
            any_of=(present("users"), present("nickname", "email", "password")),
            errors={
                400: (
                    "A missing or invalid field (the message names the account), or an empty"
                    " `users`: none are created."
                ),
                403: NOT_ADMIN,
                409: "A nickname or e-mail address is already taken (none are created).",
            },
            description=(
                "Either `users`, a list of {nickname, email, password}, or those three fields for"
                " one account.  Every entry is checked before any is created."
            ),
        ),
    )
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

    @route(
        app,
        f"{PREFIX}/users",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Delete an account.",
            responses={200: answer(STRING, "The deleted account's nickname, as a JSON string.")},
            fields={"nickname": NICKNAME},
            required=("nickname",),
            errors={403: NOT_ADMIN, 404: NO_USER},
        ),
    )
    async def delete_user(self, call: Call) -> Any:
        actor = self._admin(call)
        user = await admin.delete_user(self.rt, actor, call.params.required_str("nickname"))
        return user.nickname

    @route(app, f"{PREFIX}/users/tag", "PUT", auth=Auth.REQUIRED, scope="write", doc=_tags(True))
    @route(
        app, f"{PREFIX}/users/tag", "DELETE", auth=Auth.REQUIRED, scope="write", doc=_tags(False)
    )
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
        doc=Operation(
            "Deactivate an active account or reactivate a deactivated one.",
            responses={200: answer(ref("AdminUser"), "The account as it is now.")},
            path={"nickname": NICKNAME},
            errors={403: NOT_ADMIN, 404: NO_USER},
            description="Deactivating also revokes every token of the account.",
        ),
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
        auth=Auth.REQUIRED,
        scope="write",
        doc=_group_change(True, True),
    )
    @route(
        app,
        f"{PREFIX}/permission_group/<group>",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_group_change(False, True),
    )
    async def group_of_many(self, call: Call) -> Any:
        return await self._set_group(call, call.params.list("nicknames"))

    @route(
        app,
        f"{PREFIX}/users/<nickname>/permission_group/<group>",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_group_change(True, False),
    )
    @route(
        app,
        f"{PREFIX}/users/<nickname>/permission_group/<group>",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_group_change(False, False),
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
        app,
        f"{PREFIX}/users/<nickname>/permission_group",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_groups(),
    )
    async def groups(self, call: Call) -> Any:
        return await self._groups(call)

    @route(
        app,
        f"{PREFIX}/users/<nickname>/permission_group/<group>",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "The account's roles (the group in the path is ignored).",
            responses={200: answer(closed({"is_moderator": BOOLEAN, "is_admin": BOOLEAN}))},
            path={"nickname": NICKNAME},
            errors={403: NOT_ADMIN, 404: NO_USER},
        ),
    )
    async def groups_any(self, call: Call) -> Any:
        return await self._groups(call)  # the group is ignored, as in the reference

    async def _groups(self, call: Call) -> Any:
        self._admin(call)
        user = await admin.find_user(self.rt, call.params.required_str("nickname"))
        return {"is_moderator": user.is_moderator, "is_admin": user.is_admin}

    @route(
        app,
        f"{PREFIX}/users/<nickname>/activation_status",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Activate or deactivate an account.",
            responses={204: no_content()},
            fields={"status": {**FLAG, "description": "true activates, false deactivates."}},
            required=("status",),
            path={"nickname": NICKNAME},
            errors={400: "status missing or not a boolean.", 403: NOT_ADMIN, 404: NO_USER},
            description="Deactivating also revokes every token of the account.",
        ),
    )
    async def activation_status(self, call: Call) -> Any:
        actor = self._admin(call)
        active = call.params.bool("status")
        if active is None:
            raise MissingField("status")
        await admin.set_activation(self.rt, actor, [call.params.required_str("nickname")], active)
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/users/activate",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_activation(True),
    )
    async def activate(self, call: Call) -> Any:
        return await self._set_activation(call, True)

    @route(
        app,
        f"{PREFIX}/users/deactivate",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_activation(False),
    )
    async def deactivate(self, call: Call) -> Any:
        return await self._set_activation(call, False)

    async def _set_activation(self, call: Call, active: bool) -> Any:
        # Decided by the route, not the path: "/activate/" is routed here too.
        actor = self._admin(call)
        updated = await admin.set_activation(self.rt, actor, call.params.list("nicknames"), active)
        return {"users": [self._user_json(u) for u in updated]}

    @route(
        app,
        f"{PREFIX}/users/force_password_reset",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Require accounts to reset their password before they log in again.",
            responses={204: no_content()},
            fields={"nicknames": NICKNAMES},
            required=("nicknames",),
            errors={
                400: "Malformed parameters, no nicknames, or a remote account.",
                403: NOT_ADMIN,
                404: "One of the nicknames names no account (nothing changes).",
            },
            description=(
                "Until the account completes a password reset (a link from"
                " `/auth/password` or from an admin), logging in by any means and its"
                " existing tokens are refused with 403 `Password reset is required`."
            ),
        ),
    )
    async def force_password_reset(self, call: Call) -> Any:
        actor = self._admin(call)
        await admin.force_password_reset(self.rt, actor, call.params.list("nicknames"))
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/users/follow",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_force_follow(True),
    )
    async def force_follow(self, call: Call) -> Any:
        return await self._force(call, True)

    @route(
        app,
        f"{PREFIX}/users/unfollow",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_force_follow(False),
    )
    async def force_unfollow(self, call: Call) -> Any:
        return await self._force(call, False)

    async def _force(self, call: Call, follow: bool) -> Any:
        actor = self._admin(call)
        await admin.force_follow(
            self.rt,
            actor,
            call.params.required_str("follower"),
            call.params.required_str("followed"),
            follow=follow,
        )
        return "ok"

    @route(
        app,
        f"{PREFIX}/users/<nickname>/statuses",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "An account's newest statuses.",
            responses={200: answer(array(ref("Status")), "Rendered for no one in particular.")},
            fields={
                "page_size": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Default 50; more than 500 counts as 500.",
                },
                "godmode": {**FLAG, "description": "Private and direct ones too."},
                "with_reblogs": {**FLAG, "description": "Reblogs too."},
            },
            path={"nickname": NICKNAME},
            errors={400: "Malformed parameters.", 403: NOT_STAFF, 404: NO_USER},
        ),
    )
    async def user_statuses(self, call: Call) -> Any:
        self._staff(call)
        _, page_size = admin.page_args(None, call.params.int("page_size"))
        return self._statuses_json(
            await admin.user_statuses(
                self.rt,
                call.params.required_str("nickname"),
                page_size,
                godmode=bool(call.params.bool("godmode", False)),
                with_reblogs=bool(call.params.bool("with_reblogs", False)),
            )
        )

    @route(
        app,
        f"{PREFIX}/stats",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "The instance's figures.",
            responses={
                200: answer(
                    closed(
                        {
                            "user_count": INTEGER,
                            "status_count": INTEGER,
                            "status_visibility": closed(
                                {v: INTEGER for v in ("public", "unlisted", "private", "direct")}
                            ),
                        }
                    ),
                    "Local accounts (not deleted) and local posts (not reblogs), by visibility.",
                )
            },
            errors={403: NOT_ADMIN},
        ),
    )
    async def stats(self, call: Call) -> Any:
        self._admin(call)
        return await admin.stats(self.rt)

    # -- statuses ---------------------------------------------------------------

    @route(
        app,
        f"{PREFIX}/statuses",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "A page of every account's statuses, newest first.",
            responses={200: answer(array(ref("Status")), "Rendered for no one in particular.")},
            fields={
                "local_only": {**FLAG, "description": "Only local accounts' statuses."},
                "godmode": {**FLAG, "description": "Private and direct ones too."},
                "with_reblogs": {**FLAG, "description": "Reblogs too."},
                **PAGE_FIELDS,
            },
            errors={400: "Malformed parameters, or a page below 1.", 403: NOT_STAFF},
        ),
    )
    async def list_statuses(self, call: Call) -> Any:
        self._staff(call)
        page, page_size = admin.page_args(call.params.int("page"), call.params.int("page_size"))
        return self._statuses_json(
            await admin.list_statuses(
                self.rt,
                page,
                page_size,
                local_only=bool(call.params.bool("local_only", False)),
                godmode=bool(call.params.bool("godmode", False)),
                with_reblogs=bool(call.params.bool("with_reblogs", False)),
            )
        )

    @route(
        app,
        f"{PREFIX}/statuses/<id>",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Any status, whoever may see it.",
            responses={200: answer(ref("Status"))},
            path={"id": ID},
            errors={403: NOT_STAFF, 404: NO_STATUS},
        ),
    )
    async def show_status(self, call: Call) -> Any:
        self._staff(call)
        loaded = await admin.get_status(self.rt, call.params.required_str("id"))
        return self._statuses_json(loaded)[0]

    @route(
        app,
        f"{PREFIX}/statuses/<id>",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Mark a post sensitive or not, or change its visibility.",
            responses={200: answer(ref("Status"), "The post as it is now.")},
            fields={
                "sensitive": FLAG,
                "visibility": enum("public", "unlisted", "private", "direct"),
            },
            path={"id": ID},
            errors={
                400: "Malformed parameters or an unknown visibility.",
                403: NOT_STAFF,
                404: NO_STATUS + "  Or a reblog.",
            },
            description="A reblog takes its post's new visibility.",
        ),
    )
    async def update_status(self, call: Call) -> Any:
        actor = self._staff(call)
        loaded = await admin.update_status(
            self.rt,
            actor,
            call.params.required_str("id"),
            sensitive=call.params.bool("sensitive"),
            visibility=call.params.str("visibility"),
        )
        return self._statuses_json(loaded)[0]

    @route(
        app,
        f"{PREFIX}/statuses/<id>",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Delete any status.",
            responses={200: answer(closed({}), "An empty object.")},
            path={"id": ID},
            errors={403: NOT_STAFF, 404: NO_STATUS},
            description="As if its author had deleted it.",
        ),
    )
    async def delete_status(self, call: Call) -> Any:
        actor = self._staff(call)
        await admin.delete_status(self.rt, actor, call.params.required_str("id"))
        return {}

    # -- the moderation log -------------------------------------------------------

    @route(
        app,
        f"{PREFIX}/moderation_log",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "What admins and moderators did, newest first.",
            responses={
                200: answer(
                    closed({"items": array(ref("ModerationLogEntry")), "total": INTEGER}),
                    "total counts every matching entry, not only this page.",
                )
            },
            fields={
                "user_id": {**ID, "description": "Only what this account did."},
                "search": {"type": "string", "description": "A substring of the message."},
                "start_date": {
                    "type": "string",
                    "description": "ISO 8601; entries from then on.",
                },
                "end_date": {"type": "string", "description": "ISO 8601; entries until then."},
                **PAGE_FIELDS,
            },
            errors={
                400: "Malformed parameters, a date that is not ISO 8601, or a page below 1.",
                403: NOT_STAFF,
            },
        ),
    )
    async def moderation_log(self, call: Call) -> Any:
        self._staff(call)
        params = call.params
        page, page_size = admin.page_args(params.int("page"), params.int("page_size"))
        user_id = params.str("user_id")
        search = admin.LogSearch(
            # An id that names nobody matches nothing.
            actor_id=(parse_id(user_id) or 0) if user_id else None,
            search=params.str("search") or None,
            start=admin.parse_moment(params.str("start_date"), "start_date"),
            end=admin.parse_moment(params.str("end_date"), "end_date"),
        )
        entries, total = await admin.moderation_log(self.rt, search, page, page_size)
        return {
            "items": [
                {
                    "id": str(entry.id),
                    "data": entry.data,
                    "time": int(entry.created_at.timestamp()),
                    "message": entry.message,
                }
                for entry in entries
            ],
            "total": total,
        }

    # -- reports ----------------------------------------------------------------

    @route(
        app,
        f"{PREFIX}/reports",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "A page of reports, newest first.",
            responses={
                200: answer(
                    closed({"totals": INTEGER, "reports": array(ref("AdminReport"))}),
                    "totals counts every report in the state asked for, not only this page.",
                )
            },
            fields={
                "state": {**enum(*REPORT_STATES), "description": "Only reports in this state."},
                **PAGE_FIELDS,
            },
            errors={
                400: "Malformed parameters, an unknown state, or a page below 1.",
                403: NOT_STAFF,
            },
        ),
    )
    async def list_reports(self, call: Call) -> Any:
        page, page_size = admin.page_args(call.params.int("page"), call.params.int("page_size"))
        found, total = await reports.list_reports(
            self.rt, call.user, call.params.str("state") or None, page, page_size
        )
        return {"totals": total, "reports": [render_report(r, self.rt.config) for r in found]}

    @route(
        app,
        f"{PREFIX}/reports",
        "PATCH",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Change the state of reports.",
            responses={204: no_content()},
            fields={
                "reports": {
                    **array(closed({"id": ID, "state": enum(*REPORT_STATES)})),
                    "minItems": 1,
                }
            },
            required=("reports",),
            errors={
                400: "Malformed parameters, no reports, or an unknown state (nothing changes).",
                403: NOT_STAFF,
                404: "One of the ids names no report (nothing changes).",
            },
        ),
    )
    async def update_reports(self, call: Call) -> Any:
        batch = call.params.get("reports", None)
        if not isinstance(batch, list) or not all(
            isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("state"), str)
            for e in batch
        ):
            raise BadRequest("Invalid value for reports: expected a list of {id, state}")
        await reports.update_states(self.rt, call.user, [(e["id"], e["state"]) for e in batch])
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/reports/<id>",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "One report.",
            responses={200: answer(ref("AdminReport"))},
            path={"id": ID},
            errors={403: NOT_STAFF, 404: NO_REPORT},
        ),
    )
    async def show_report(self, call: Call) -> Any:
        shown = await reports.get_report(self.rt, call.user, call.params.required_str("id"))
        return render_report(shown, self.rt.config)

    @route(
        app,
        f"{PREFIX}/reports/<id>/notes",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Add a note to a report.",
            responses={204: no_content()},
            fields={"content": NON_BLANK},
            required=("content",),
            path={"id": ID},
            errors={
                400: "Malformed parameters, a blank note, or a closed report.",
                403: NOT_STAFF,
                404: NO_REPORT,
            },
        ),
    )
    async def add_note(self, call: Call) -> Any:
        await reports.add_note(
            self.rt,
            call.user,
            call.params.required_str("id"),
            call.params.required_str("content"),
        )
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/reports/<report_id>/notes/<id>",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Delete a note of a report.",
            responses={204: no_content()},
            path={"report_id": ID, "id": ID},
            errors={403: NOT_STAFF, 404: "No such report, or no such note on it."},
        ),
    )
    async def delete_note(self, call: Call) -> Any:
        await reports.delete_note(
            self.rt,
            call.user,
            call.params.required_str("report_id"),
            call.params.required_str("id"),
        )
        return NO_CONTENT

    # -- invites and password resets ---------------------------------------------

    @route(
        app,
        f"{PREFIX}/users/invite_token",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_invite_token("GET"),
    )
    @route(
        app,
        f"{PREFIX}/users/invite_token",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_invite_token("POST"),
    )
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

    @route(
        app,
        f"{PREFIX}/users/invites",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Every invite, by id.",
            responses={200: answer(closed({"invites": array(ref("Invite"))}))},
            errors={403: NOT_ADMIN},
        ),
    )
    async def invites(self, call: Call) -> Any:
        self._admin(call)
        return {"invites": [render_invite(i) for i in await admin.list_invites(self.rt)]}

    @route(
        app,
        f"{PREFIX}/users/revoke_invite",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Mark an invite used.",
            responses={200: answer(ref("Invite"), "The invite, now used.")},
            fields={"token": STRING},
            required=("token",),
            errors={403: NOT_ADMIN, 404: "No invite has that token."},
        ),
    )
    async def revoke_invite(self, call: Call) -> Any:
        actor = self._admin(call)
        return render_invite(
            await admin.revoke_invite(self.rt, actor, call.params.required_str("token"))
        )

    @route(
        app,
        f"{PREFIX}/users/email_invite",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "E-mail a one-time invite.",
            responses={204: no_content("The invite is created and its mail queued.")},
            fields={
                "email": EMAIL_FIELD,
                "name": {"type": "string", "description": "Whom to greet."},
            },
            required=("email",),
            errors={
                400: (
                    "Malformed parameters or not an e-mail address; `Invites are disabled` unless"
                    " invites are enabled and registrations closed; `deliveries_disabled` without"
                    " a mail backend."
                ),
                403: NOT_ADMIN,
            },
        ),
    )
    async def email_invite(self, call: Call) -> Any:
        actor = self._admin(call)
        await admin.email_invite(
            self.rt, actor, call.params.required_str("email"), call.params.str("name")
        )
        return NO_CONTENT

    @route(
        app,
        f"{PREFIX}/users/<nickname>/password_reset",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "A password reset link for a local account.",
            responses={
                200: answer(
                    closed({"token": STRING, "link": STRING}),
                    "link opens the reset form; token is its last segment.",
                )
            },
            path={"nickname": NICKNAME},
            errors={403: NOT_ADMIN, 404: "No such account, or a remote one."},
        ),
    )
    async def password_reset(self, call: Call) -> Any:
        actor = self._admin(call)
        link = await admin.password_reset_link(self.rt, actor, call.params.required_str("nickname"))
        return {"token": link.rsplit("/", 1)[1], "link": link}

    # Last: the catch-all for one user.
    @route(
        app,
        f"{PREFIX}/users/<nickname>",
        "GET",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "One account.",
            responses={200: answer(ref("AdminUser"))},
            path={"nickname": NICKNAME},
            errors={403: NOT_ADMIN, 404: NO_USER},
        ),
    )
    async def show_user(self, call: Call) -> Any:
        self._admin(call)
        return self._user_json(await admin.find_user(self.rt, call.params.required_str("nickname")))


def _int(value: Any, name: str) -> int | None:
    return Params({name: value}).int(name)
