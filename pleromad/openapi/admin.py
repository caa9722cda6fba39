"""The Admin API: accounts, roles, tags, invites and reset links
(:mod:`pleromad.web.admin`).

Every operation needs an admin (moderators are not admitted) whose
credentials hold ``write``, GETs included, so each lists its own 403.
"""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    ID,
    INTEGER,
    STRING,
    Operation,
    answer,
    array,
    closed,
    enum,
    no_content,
    nullable,
    ref,
)

TAG = "Admin"

NOT_ADMIN = (
    "Invalid credentials, a token without `write`, or an account that is not an admin"
    " (`User is not admin.`)."
)
NO_USER = "No (undeleted) account has that nickname or id (`Record not found`)."
NICKNAME = {"type": "string", "description": "A nickname, or an account id."}
GROUP = {"type": "string", "description": "`admin` or `moderator`; any other is a 404."}

SCHEMAS = {
    "AdminUser": closed(
        {
            "id": ID,
            "avatar": {"type": "string", "description": "The instance's default when none is set."},
            "nickname": STRING,
            "display_name": STRING,
            "deactivated": BOOLEAN,
            "local": BOOLEAN,
            "roles": closed({"admin": BOOLEAN, "moderator": BOOLEAN}),
            "tags": array(STRING),
        }
    ),
    "Invite": closed(
        {
            "id": INTEGER,
            "token": STRING,
            "used": BOOLEAN,
            "expires_at": nullable({"type": "string", "format": "date"}),
            "uses": INTEGER,
            "max_use": nullable(INTEGER),
            "invite_type": enum("one_time", "reusable", "date_limited", "reusable_date_limited"),
        }
    ),
}

NEW_ACCOUNT = closed({"nickname": STRING, "email": STRING, "password": STRING})


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
        fields={"nicknames": array(STRING)} if many else {},
        path={"group": GROUP, **({} if many else {"nickname": NICKNAME})},
        errors=errors,
        description=(
            None
            if not many
            else "An empty `nicknames` is a 400; every nickname is looked up before any change."
        ),
    )


def _groups() -> Operation:
    return Operation(
        "The account's roles.",
        responses={200: answer(closed({"is_moderator": BOOLEAN, "is_admin": BOOLEAN}))},
        path={"nickname": NICKNAME},
        errors={403: NOT_ADMIN, 404: NO_USER},
    )


def _tags(add: bool) -> Operation:
    return Operation(
        ("Add tags to" if add else "Remove tags from") + " accounts.",
        responses={204: no_content()},
        fields={"nicknames": array(STRING), "tags": array(STRING)},
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
                {"max_use": INTEGER, "expires_at": STRING}, optional=("max_use", "expires_at")
            ),
            "max_use": {"type": "integer", "minimum": 1},
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


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/pleroma/admin/users"): Operation(
        "A page of accounts, ordered by nickname.",
        responses={
            200: answer(
                closed({"users": array(ref("AdminUser")), "count": INTEGER, "page_size": INTEGER}),
                "count is every matching account, not only this page.",
            )
        },
        fields={
            "query": {"type": "string", "description": "A substring of the nickname."},
            "filters": {
                "type": "string",
                "description": (
                    "A comma list of local, external, active, deactivated, is_admin,"
                    " is_moderator; other names are ignored."
                ),
            },
            "page": {"type": "integer", "minimum": 1, "description": "Default 1."},
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "description": "Default 50; more than 500 counts as 500.",
            },
        },
        errors={400: "Malformed parameters, or a page or page_size below 1.", 403: NOT_ADMIN},
    ),
    ("POST", "/api/pleroma/admin/users"): Operation(
        "Create confirmed local accounts.",
        responses={
            200: answer(
                {
                    "anyOf": [
                        {"type": "string", "description": "The nickname created (one account)."},
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
            "users": array(NEW_ACCOUNT),
            "nickname": STRING,
            "email": STRING,
            "password": STRING,
        },
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
    ("DELETE", "/api/pleroma/admin/users"): Operation(
        "Delete an account.",
        responses={200: answer(STRING, "The deleted account's nickname, as a JSON string.")},
        fields={"nickname": NICKNAME},
        required=("nickname",),
        errors={403: NOT_ADMIN, 404: NO_USER},
    ),
    ("GET", "/api/pleroma/admin/users/{nickname}"): Operation(
        "One account.",
        responses={200: answer(ref("AdminUser"))},
        path={"nickname": NICKNAME},
        errors={403: NOT_ADMIN, 404: NO_USER},
    ),
    ("PUT", "/api/pleroma/admin/users/tag"): _tags(True),
    ("DELETE", "/api/pleroma/admin/users/tag"): _tags(False),
    ("PATCH", "/api/pleroma/admin/users/{nickname}/toggle_activation"): Operation(
        "Deactivate an active account or reactivate a deactivated one.",
        responses={200: answer(ref("AdminUser"), "The account as it is now.")},
        path={"nickname": NICKNAME},
        errors={403: NOT_ADMIN, 404: NO_USER},
        description="Deactivating also revokes every token of the account.",
    ),
    ("POST", "/api/pleroma/admin/permission_group/{group}"): _group_change(True, True),
    ("DELETE", "/api/pleroma/admin/permission_group/{group}"): _group_change(False, True),
    ("POST", "/api/pleroma/admin/users/{nickname}/permission_group/{group}"): _group_change(
        True, False
    ),
    ("DELETE", "/api/pleroma/admin/users/{nickname}/permission_group/{group}"): _group_change(
        False, False
    ),
    ("GET", "/api/pleroma/admin/users/{nickname}/permission_group"): _groups(),
    ("GET", "/api/pleroma/admin/users/{nickname}/permission_group/{group}"): Operation(
        "The account's roles (the group in the path is ignored).",
        responses={200: answer(closed({"is_moderator": BOOLEAN, "is_admin": BOOLEAN}))},
        path={"nickname": NICKNAME},
        errors={403: NOT_ADMIN, 404: NO_USER},
    ),
    ("GET", "/api/pleroma/admin/users/invite_token"): _invite_token("GET"),
    ("POST", "/api/pleroma/admin/users/invite_token"): _invite_token("POST"),
    ("GET", "/api/pleroma/admin/users/invites"): Operation(
        "Every invite, by id.",
        responses={200: answer(closed({"invites": array(ref("Invite"))}))},
        errors={403: NOT_ADMIN},
    ),
    ("POST", "/api/pleroma/admin/users/revoke_invite"): Operation(
        "Mark an invite used.",
        responses={200: answer(ref("Invite"), "The invite, now used.")},
        fields={"token": STRING},
        required=("token",),
        errors={403: NOT_ADMIN, 404: "No invite has that token."},
    ),
    ("POST", "/api/pleroma/admin/users/email_invite"): Operation(
        "E-mail a one-time invite.",
        responses={204: no_content("The invite is created and its mail queued.")},
        fields={"email": STRING, "name": {"type": "string", "description": "Whom to greet."}},
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
    ("GET", "/api/pleroma/admin/users/{nickname}/password_reset"): Operation(
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
}
