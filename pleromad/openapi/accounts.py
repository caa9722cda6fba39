"""Accounts and the instance (pleromad.web.accounts), and the TwitterAPI
registration and e-mail confirmation (pleromad.web.twitter)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    FILE,
    FLAG,
    ID,
    INTEGER,
    PAGINATED,
    RATE_LIMITED,
    STRING,
    Operation,
    Schema,
    answer,
    array,
    closed,
    enum,
    no_content,
    note,
    nullable,
    page_fields,
    ref,
)

TAG = "Accounts"


INSTANCE = closed(
    {
        "uri": STRING,
        "title": STRING,
        "description": STRING,
        "version": STRING,
        "email": STRING,
        "urls": closed({"streaming_api": STRING}),
        "stats": closed({"user_count": INTEGER, "status_count": INTEGER, "domain_count": INTEGER}),
        "thumbnail": STRING,
        "languages": array(STRING),
        "registrations": BOOLEAN,
        "max_toot_chars": INTEGER,
        "upload_limit": INTEGER,
        "avatar_upload_limit": INTEGER,
        "banner_upload_limit": INTEGER,
        "background_upload_limit": INTEGER,
        "poll_limits": closed(
            {
                "max_options": INTEGER,
                "max_option_chars": INTEGER,
                "min_expiration": INTEGER,
                "max_expiration": INTEGER,
            }
        ),
        "invites_enabled": BOOLEAN,
        "account_activation_required": BOOLEAN,
    }
)
INSTANCE["description"] = (
    "`uri` is the full base URL; `version` starts with the Mastodon version"
    " clients gate features on (2.7.2)."
)

TWITTER_USER = closed(
    {
        "id": ID,
        "screen_name": STRING,
        "name": STRING,
        "name_html": STRING,
        "description": STRING,
        "description_html": STRING,
        "created_at": note(STRING, "As Twitter: `Tue Dec 18 16:55:56 +0000 2018`."),
        "favourites_count": INTEGER,
        "followers_count": INTEGER,
        "friends_count": INTEGER,
        "statuses_count": INTEGER,
        "following": BOOLEAN,
        "follows_you": BOOLEAN,
        "statusnet_blocking": BOOLEAN,
        "profile_image_url": STRING,
        "profile_image_url_https": STRING,
        "profile_image_url_profile_size": STRING,
        "profile_image_url_original": STRING,
        "cover_photo": STRING,
        "background_image": nullable(STRING),
        "statusnet_profile_url": STRING,
        "is_local": BOOLEAN,
        "locked": BOOLEAN,
        "hide_followers": BOOLEAN,
        "hide_follows": BOOLEAN,
        "fields": {"type": "array", "maxItems": 0},
        "pleroma": closed(
            {
                "confirmation_pending": BOOLEAN,
                "tags": array(STRING),
                "skip_thread_containment": BOOLEAN,
            }
        ),
        "rights": closed({"delete_others_notice": BOOLEAN, "admin": BOOLEAN}),
        "default_scope": enum("public", "unlisted", "private", "direct"),
        "no_rich_text": BOOLEAN,
        "role": enum("admin", "moderator", "member"),
    },
    optional=("role",),
)
TWITTER_USER["description"] = "The TwitterAPI user object; `role` only when the account shows it."

ACCOUNT_TOKEN = closed(
    {
        "token_type": enum("Bearer"),
        "access_token": STRING,
        "refresh_token": STRING,
        "expires_in": INTEGER,
        "scope": {"type": "string", "description": "The app's scopes, space-separated."},
        "created_at": {"type": "integer", "description": "Seconds since the epoch."},
        "me": {"type": "string", "description": "The new account's ActivityPub id."},
    }
)

SCHEMAS: dict[str, Schema] = {
    "Instance": INSTANCE,
    "TwitterUser": TWITTER_USER,
    "AccountToken": ACCOUNT_TOKEN,
}

# What both registrations may refuse, besides their own missing parameters.
REGISTRATION_400 = (
    "Malformed parameters, or a field Pleroma refuses: the error is the JSON"
    " text of {field: [messages]}"
    " (nickname, name, email, password, password_confirmation, bio, captcha)."
    "  While registrations are closed, a missing, unknown or used-up invite"
    ' `token` is answered with the bare JSON string "Invalid token" or'
    ' "Expired token" instead.'
)
# 400 of both registrations: an Error, or the bare string of an invite refusal.
REFUSED = {
    "anyOf": [
        ref("Error"),
        {**enum("Invalid token", "Expired token"), "description": "An invite refusal."},
    ]
}
THROTTLED = "Too many registration attempts from this client (X-RateLimit headers sent)."
NO_ACCOUNT = "No such account (by id or nickname), or the reader may not see it."
NO_TARGET = "No such account the caller may see, or the caller's own account."

SEARCH_FIELDS: dict[str, Schema] = {
    "q": note(STRING, "A nickname or name prefix; `@nick`, `nick@our-host` mean the local `nick`."),
    "limit": {"type": "integer", "description": "Default 40; at most 80, at least 1."},
    "offset": {"type": "integer", "description": "Accounts to skip; default 0."},
    "resolve": {**FLAG, "description": "Accepted; nothing remote is resolved."},
    "following": {
        **FLAG,
        "description": "Only accounts the reader follows (none for an anonymous reader).",
    },
}

STATUS_FILTERS: dict[str, Schema] = {
    "only_media": {**FLAG, "description": "Only statuses with attachments."},
    "exclude_replies": {**FLAG, "description": "Leave replies out."},
    "exclude_reblogs": {**FLAG, "description": "Leave reblogs out."},
}


PICTURE = note(STRING, 'A base64 `data:` URL, or "" to remove the picture.')
INVITE = note(STRING, "An invite, needed while registrations are closed.")

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/v1/accounts"): Operation(
        "Register an account with an app token and get a user token for it.",
        description=(
            "Mastodon's registration (DECISIONS 25): the same checks as"
            " /api/account/register; `fullname` defaults to the username and the"
            " password is its own confirmation.  The token has the app's scopes."
        ),
        responses={
            200: answer(ref("AccountToken"), "The new account's token.", **RATE_LIMITED),
            400: answer(
                REFUSED,
                'Malformed parameters; "Missing parameters" when username, email or'
                " password is absent or agreement is not true; otherwise as"
                " /api/account/register.",
                **RATE_LIMITED,
            ),
        },
        fields={
            "username": STRING,
            "email": STRING,
            "password": STRING,
            "agreement": {**FLAG, "description": "Must be true."},
            "fullname": STRING,
            "bio": STRING,
            "token": INVITE,
            "captcha_token": STRING,
            "captcha_solution": STRING,
            "captcha_answer_data": STRING,
        },
        required=("username", "email", "password", "agreement"),
        errors={
            403: "Not an app token (a user's token, or none).",
            429: THROTTLED,
        },
    ),
    ("GET", "/api/v1/accounts/verify_credentials"): Operation(
        "The caller's own account, with its settings.",
        responses={200: answer(ref("Account"))},
    ),
    ("PATCH", "/api/v1/accounts/update_credentials"): Operation(
        "Edit the caller's profile and pictures.",
        description=(
            "Every change is checked before any is stored: a refusal changes"
            " nothing.  Pictures come as multipart files or base64 `data:` URLs."
            "  `pleroma_settings_store` is merged key by key into the stored one."
        ),
        responses={200: answer(ref("Account"), "The edited account, as verify_credentials.")},
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
            "pleroma_settings_store": {"type": "object"},
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
    ("GET", "/api/v1/accounts/search"): Operation(
        "Find accounts by nickname or name prefix, an exact nickname first.",
        responses={200: answer(array(ref("Account")))},
        fields=SEARCH_FIELDS,
        required=("q",),
    ),
    ("GET", "/api/v1/accounts/lookup"): Operation(
        "An account, by its nickname.",
        description=(
            "Mastodon's lookup: `acct` is `nick`, `@nick` or `nick@our-host`, any"
            " case, never an id; the account is rendered as /api/v1/accounts/{id}"
            " renders it."
        ),
        responses={200: answer(ref("Account"))},
        fields={"acct": note(STRING, "A nickname (`nick`, `@nick`, `nick@our-host`).")},
        required=("acct",),
        errors={404: "No local account the reader may see by that nickname."},
    ),
    ("GET", "/api/v1/accounts/relationships"): Operation(
        "The caller's relationships to some accounts.",
        description=(
            "`id` or `id[]`, one or many (DECISIONS 29); answered in the order"
            " asked, once each; ids of no account the caller may see are left out."
        ),
        responses={200: answer(array(ref("Relationship")))},
        fields={"id": array(ID)},
    ),
    ("GET", "/api/v1/accounts/{id}"): Operation(
        "An account, by id or nickname.",
        responses={200: answer(ref("Account"))},
        path={"id": note(STRING, "An id, or a nickname (`nick`, `@nick`, `nick@our-host`).")},
        errors={404: NO_ACCOUNT},
    ),
    ("POST", "/api/v1/accounts/{id}/follow"): Operation(
        "Follow an account (a request, when it is locked).",
        responses={200: answer(ref("Relationship"))},
        fields={
            "reblogs": note(
                FLAG,
                "Whether its reblogs show in the home timeline; default: unchanged"
                " (true for a new follow).",
            )
        },
        errors={
            403: (
                "Invalid credentials or scope; or the follow is refused: the target"
                " is deactivated, blocks the caller or is blocked by the caller."
            ),
            404: NO_TARGET,
        },
    ),
    ("POST", "/api/v1/accounts/{id}/unfollow"): Operation(
        "Stop following an account, or withdraw the request.",
        responses={200: answer(ref("Relationship"))},
        errors={404: NO_TARGET},
    ),
    ("POST", "/api/v1/accounts/{id}/block"): Operation(
        "Block an account.",
        responses={200: answer(ref("Relationship"))},
        errors={404: NO_TARGET},
    ),
    ("POST", "/api/v1/accounts/{id}/unblock"): Operation(
        "Unblock an account.",
        responses={200: answer(ref("Relationship"))},
        errors={404: NO_TARGET},
    ),
    ("POST", "/api/v1/accounts/{id}/mute"): Operation(
        "Mute an account.",
        responses={200: answer(ref("Relationship"))},
        fields={"notifications": note(FLAG, "Mute its notifications too; default true.")},
        errors={404: NO_TARGET},
    ),
    ("POST", "/api/v1/accounts/{id}/unmute"): Operation(
        "Unmute an account.",
        responses={200: answer(ref("Relationship"))},
        errors={404: NO_TARGET},
    ),
    ("GET", "/api/v1/accounts/{id}/followers"): Operation(
        "The accounts following an account, newest follow first.",
        description="Empty for others than the owner when it hides its followers.",
        responses={200: answer(array(ref("Account")), **PAGINATED)},
        fields=page_fields(80),
        errors={404: NO_ACCOUNT},
    ),
    ("GET", "/api/v1/accounts/{id}/following"): Operation(
        "The accounts an account follows, newest follow first.",
        description="Empty for others than the owner when it hides its follows.",
        responses={200: answer(array(ref("Account")), **PAGINATED)},
        fields=page_fields(80),
        errors={404: NO_ACCOUNT},
    ),
    ("GET", "/api/v1/accounts/{id}/statuses"): Operation(
        "An account's statuses and reblogs the reader may see, newest first.",
        responses={200: answer(array(ref("Status")), **PAGINATED)},
        fields={
            **page_fields(40),
            **STATUS_FILTERS,
            "tagged": {"type": "string", "description": "Only statuses with this hashtag."},
            "pinned": note(FLAG, "The pinned statuses: none can be pinned yet, so []."),
        },
        errors={404: NO_ACCOUNT},
    ),
    ("GET", "/api/v1/instance"): Operation(
        "What this instance is and what it allows.",
        responses={200: answer(ref("Instance"))},
    ),
    ("GET", "/api/v1/instance/peers"): Operation(
        "The other domains this instance knows: none, without federation.",
        responses={200: answer({**array(STRING), "maxItems": 0})},
    ),
    ("POST", "/api/account/register"): Operation(
        "Register an account (TwitterAPI form, as Pleroma-FE sends it).",
        description=(
            "Counts against the registration rate limit, checks the captcha,"
            " the invite while registrations are closed, then every field at once;"
            " a refused registration leaves nothing behind.  With activation"
            " required, the account waits for its confirmation mail's link."
        ),
        responses={
            200: answer(ref("TwitterUser"), "The new account.", **RATE_LIMITED),
            400: answer(REFUSED, REGISTRATION_400, **RATE_LIMITED),
        },
        fields={
            "nickname": STRING,
            "fullname": STRING,
            "bio": STRING,
            "email": STRING,
            "password": STRING,
            "confirm": STRING,
            "token": INVITE,
            "captcha_token": STRING,
            "captcha_solution": STRING,
            "captcha_answer_data": STRING,
        },
        required=("nickname", "fullname", "email", "password", "confirm"),
        errors={429: THROTTLED},
    ),
    ("GET", "/api/account/confirm_email/{user_id}/{token}"): Operation(
        "Confirm an account's e-mail address: the link of the confirmation mail.",
        responses={302: answer({"const": ""}, "Confirmed; on to the front page.", Location="`/`.")},
        errors={
            400: (
                'A path that is not UTF-8, or "Invalid token": no account waiting'
                " for confirmation has this id and token."
            )
        },
    ),
    ("POST", "/api/account/resend_confirmation_email"): Operation(
        "Send an unconfirmed account's confirmation mail again.",
        description=(
            "Answered alike whether or not such an account exists (DECISIONS 13);"
            " a mail goes out only when activation is required and the account"
            " still waits for it."
        ),
        responses={204: no_content("Done, if there was anything to do.", **RATE_LIMITED)},
        fields={"email": STRING, "nickname": note(STRING, "Used when email is absent.")},
        errors={
            400: "Malformed parameters, or neither email nor nickname (Missing field: email).",
            429: "Too many resends from this client (X-RateLimit headers sent).",
        },
    ),
}
