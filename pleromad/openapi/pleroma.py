"""Pleroma's own endpoints: the utility routes, the end of an account, the
password reset pages (:mod:`pleromad.web.pleroma`), the ``/api/v1/pleroma``
extensions (:mod:`pleromad.web.pleroma_v1`) and this document itself."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    FILE,
    INTEGER,
    PAGINATED,
    RATE_LIMITED,
    STRING,
    Operation,
    Response,
    answer,
    array,
    closed,
    html,
    no_content,
    nullable,
    page_fields,
    ref,
)

TAG = "Pleroma"

SCHEMAS = {
    "Health": closed(
        {
            "pool_size": INTEGER,
            "active": {"type": "integer", "description": "Busy connections, this check's too."},
            "idle": INTEGER,
            "memory_used": {"type": "number", "description": "Resident memory, in MiB."},
            "healthy": BOOLEAN,
        }
    ),
}

CONFIRM = {"password": {"type": "string", "description": "The account's password."}}
WRONG_PASSWORD = (
    "Invalid credentials, a token without `write`, or a missing or wrong password"
    " (`Invalid password.`)."
)
THROTTLED_LOGIN = "Too many failed logins from this address (a right password included)."

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
            )
        },
        fields={field: {"type": "string", "description": 'A base64 data: URL, or "" to clear.'}},
        files={field: FILE},
        required=(field,),
        errors=PICTURE_ERRORS,
    )


def _relationship_change(summary: str, refused: str | None) -> Operation:
    errors = {404: "No account with that id the caller may see, or the caller themself."}
    if refused:
        errors[403] = f"Invalid credentials, a token without `follow`, or {refused}."
    return Operation(
        summary,
        responses={200: answer(ref("Relationship"), "The relationship it leaves.")},
        path={"id": {"type": "string", "description": "An account id or nickname."}},
        errors=errors,
    )


def _end_of_account(summary: str, description: str) -> Operation:
    return Operation(
        summary,
        responses={200: answer(closed({"status": {"const": "success"}}))},
        fields=CONFIRM,
        errors={403: WRONG_PASSWORD, 429: THROTTLED_LOGIN},
        description=description + "  A wrong password counts as a failed login.",
    )


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/pleroma/healthcheck"): Operation(
        "Whether this node can serve: its database pool and memory.",
        responses={
            200: answer(ref("Health"), "Healthy: the database answered a ping."),
            503: answer(
                {"anyOf": [ref("Health"), closed({})]},
                "{} when the healthcheck is disabled ([instance] healthcheck); otherwise the"
                " figures with healthy false: no idle connection, or the ping failed or timed out.",
            ),
        },
    ),
    ("GET", "/api/pleroma/captcha"): Operation(
        "A new captcha challenge for registration.",
        responses={
            200: answer(
                {
                    "anyOf": [
                        closed({"type": {"const": "none"}}),
                        closed(
                            {
                                "type": STRING,
                                "token": STRING,
                                "url": {"type": "string", "description": "The image to solve."},
                                "seconds_valid": INTEGER,
                            }
                        ),
                    ]
                },
                '`{"type": "none"}` while captchas are disabled; else the provider\'s'
                " (native, kocaptcha) challenge, valid for seconds_valid.",
            )
        },
        errors={503: "The database, or the provider's service, is unavailable."},
    ),
    ("POST", "/api/pleroma/delete_account"): _end_of_account(
        "Delete the caller's account.",
        "Signs it out, leaves a tombstone and removes its content in the background.",
    ),
    ("POST", "/api/pleroma/disable_account"): _end_of_account(
        "Deactivate the caller's account.", "Also signs it out everywhere."
    ),
    ("POST", "/api/pleroma/follow_import"): Operation(
        "Follow the local accounts of a list, in the background.",
        responses={200: answer({"const": "job started"}, "Queued; a JSON string.")},
        fields={
            "list": {
                "type": "string",
                "description": "Account addresses (user@host or profile URLs), one a line or"
                " comma-separated; a header line `account address` is skipped.",
            }
        },
        files={"list": FILE},
        required=("list",),
        errors={
            400: "Malformed parameters, no list, or an uploaded file that is not UTF-8 text.",
            413: "The body is over the upload limit, or the list names more than 20000 accounts.",
        },
        description="Remote addresses and unknown accounts are skipped.",
    ),
    ("GET", "/api/pleroma/password_reset/{token}"): Operation(
        "The form that sets a new password (a reset link).",
        responses={
            200: html("The form."),
            404: html("The link is invalid, expired or already used."),
        },
        errors={503: "The database is unavailable; try again."},
    ),
    ("POST", "/api/pleroma/password_reset"): Operation(
        "Set a new password with a reset token (the form's target).",
        responses={
            200: html("Changed: every token of the account was revoked."),
            400: html(
                "An invalid, expired or used token (a page saying so), or an empty or"
                " mismatched password (the form again)."
            ),
            429: Response(
                "Too many attempts from this address: a page saying so (JSON to a client"
                " whose Accept has application/json and not text/html).",
                {"type": "string"},
                "text/html",
                RATE_LIMITED,
            ),
        },
        fields={
            "data": closed(
                {"token": STRING, "password": STRING, "password_confirmation": STRING},
                optional=("token", "password", "password_confirmation"),
            ),
            "token": STRING,
            "password": STRING,
            "password_confirmation": STRING,
        },
        errors={
            400: "Malformed parameters.",
            429: "Too many attempts, to a client that asks for JSON (`Throttled`).",
            503: "The database is unavailable; try again.",
        },
        description=(
            "The form sends `data[token]`, `data[password]` and `data[password_confirmation]`;"
            " plain names are read when there is no `data`.  Every attempt counts against the"
            " `password_reset` rate limit (its headers are on every answer)."
        ),
    ),
    # -- /api/v1/pleroma --
    ("POST", "/api/v1/pleroma/accounts/confirmation_resend"): Operation(
        "Send the confirmation mail of a pending account again.",
        responses={
            204: no_content(
                "Whether or not such an account exists (it is not disclosed).", **RATE_LIMITED
            )
        },
        fields={
            "email": STRING,
            "nickname": {"type": "string", "description": "Read when there is no email."},
        },
        errors={
            400: "Malformed parameters, or neither email nor nickname (`Missing field: email`).",
            429: "Too many requests from this address (`confirmation_resend`).",
        },
    ),
    ("POST", "/api/v1/pleroma/accounts/{id}/subscribe"): _relationship_change(
        "Be notified of the account's new statuses.", "either account blocks the other"
    ),
    ("POST", "/api/v1/pleroma/accounts/{id}/unsubscribe"): _relationship_change(
        "Stop being notified of the account's new statuses.", None
    ),
    ("GET", "/api/v1/pleroma/accounts/{id}/favourites"): Operation(
        "The statuses an account favourited, newest favourite first.",
        responses={200: answer(array(ref("Status")), **PAGINATED)},
        fields=page_fields(40),
        path={"id": {"type": "string", "description": "An account id."}},
        errors={
            403: "The account hides its favourites from the reader (`Can't get favorites`).",
            404: "No account with that id the reader may see.",
        },
        description="Paged by the favourites' ids; only statuses the reader may see.",
    ),
    ("PATCH", "/api/v1/pleroma/accounts/update_avatar"): _picture("avatar", "img"),
    ("PATCH", "/api/v1/pleroma/accounts/update_banner"): _picture("banner", "banner"),
    ("PATCH", "/api/v1/pleroma/accounts/update_background"): _picture("background image", "img"),
    ("GET", "/api/v1/pleroma/mascot"): Operation(
        "The caller's mascot, or the instance's default one.",
        responses={200: answer(ref("Attachment"))},
    ),
    ("PUT", "/api/v1/pleroma/mascot"): Operation(
        "Set the caller's mascot.",
        responses={200: answer(ref("Attachment"), "The new mascot.")},
        files={"file": FILE, "image": {**FILE, "description": "Read when there is no file."}},
        errors={
            400: "Malformed parameters, or no file (`Missing field: file`).",
            404: "The account is gone.",
            413: "The body, or the file, is over the upload limit.",
            415: "Not an image (`mascots can only be images`).",
            422: "An image of too many pixels.",
        },
    ),
    # -- this document --
    ("GET", "/api/openapi.json"): Operation(
        "This OpenAPI document.",
        responses={
            200: answer(
                {"type": "object", "required": ["openapi", "info", "paths", "components"]},
                "The document.",
                ETag="Its version; send it back as If-None-Match.",
                **{"Cache-Control": "public, max-age=300"},
            ),
            304: no_content(
                "The client's copy (If-None-Match) is current.",
                ETag="Its version.",
            ),
        },
    ),
}
