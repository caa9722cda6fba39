"""The entities the API answers with (:mod:`pleromad.views`), as schemas
with exactly their keys, and the answers several capabilities share."""

from __future__ import annotations

from pleromad.openapi import activitypub, discovery
from pleromad.openapi.spec import (
    BOOLEAN,
    DATETIME,
    ID,
    INTEGER,
    NULL,
    NUMBER,
    PAGINATED,
    STRING,
    TEXT,
    Schema,
    answer,
    array,
    closed,
    enum,
    note,
    nullable,
    ref,
)

ERROR = closed({"error": STRING})

EMOJI = closed(
    {"shortcode": STRING, "url": STRING, "static_url": STRING, "visible_in_picker": BOOLEAN}
)

RELATIONSHIP = closed(
    {
        "id": ID,
        "following": BOOLEAN,
        "followed_by": BOOLEAN,
        "blocking": BOOLEAN,
        "blocked_by": BOOLEAN,
        "muting": BOOLEAN,
        "muting_notifications": BOOLEAN,
        "subscribing": BOOLEAN,
        "requested": BOOLEAN,
        "domain_blocking": BOOLEAN,
        "showing_reblogs": BOOLEAN,
        "endorsed": BOOLEAN,
    }
)

NOTIFICATION_SETTINGS = closed(
    {
        key: BOOLEAN
        for key in ("followers", "follows", "non_followers", "non_follows", "remote", "local")
    }
)

ACCOUNT = closed(
    {
        "id": ID,
        "username": STRING,
        "acct": STRING,
        "display_name": STRING,
        "locked": BOOLEAN,
        "bot": BOOLEAN,
        "created_at": DATETIME,
        "followers_count": INTEGER,
        "following_count": INTEGER,
        "statuses_count": INTEGER,
        "note": STRING,
        "url": STRING,
        "avatar": STRING,
        "avatar_static": STRING,
        "header": STRING,
        "header_static": STRING,
        "emojis": array(ref("Emoji")),
        "fields": array(closed({"name": STRING, "value": STRING})),
        "source": closed(
            {
                "note": STRING,
                "sensitive": BOOLEAN,
                "privacy": enum("public", "unlisted", "private", "direct"),
                "pleroma": closed(
                    {"show_role": BOOLEAN, "no_rich_text": BOOLEAN},
                    optional=("show_role", "no_rich_text"),
                ),
            },
            optional=("privacy",),
        ),
        "pleroma": closed(
            {
                "confirmation_pending": BOOLEAN,
                "tags": array(STRING),
                "hide_followers": BOOLEAN,
                "hide_follows": BOOLEAN,
                "hide_favorites": BOOLEAN,
                "relationship": {
                    "description": "The reader's Relationship; {} when it has none.",
                    "anyOf": [ref("Relationship"), closed({})],
                },
                "skip_thread_containment": BOOLEAN,
                "background_image": nullable(STRING),
                "is_admin": BOOLEAN,
                "is_moderator": BOOLEAN,
                "notification_settings": ref("NotificationSettings"),
                "settings_store": {"type": "object"},
                "deactivated": BOOLEAN,
            },
            optional=(
                "is_admin",
                "is_moderator",
                "notification_settings",
                "settings_store",
                "deactivated",
            ),
        ),
    }
)
ACCOUNT["description"] = (
    "is_admin/is_moderator appear when the account shows its role or the reader"
    " is its owner; notification_settings and source.privacy only for the"
    " owner; settings_store only on the owner's credential endpoints;"
    " deactivated only for admins."
)

ATTACHMENT = closed(
    {
        "id": {**ID, "description": "The media id; `default-mascot` for the bundled mascot."},
        "url": STRING,
        "remote_url": STRING,
        "preview_url": STRING,
        "text_url": STRING,
        "type": enum("image", "video", "audio", "unknown"),
        "description": {**STRING, "description": "Alt text; the file's name unless one was given."},
        "blurhash": {
            **nullable(STRING),
            "description": "What a remote post said; null for uploads here.",
        },
        "meta": {
            **closed(
                {
                    "original": closed(
                        {"width": INTEGER, "height": INTEGER, "size": STRING, "aspect": NUMBER}
                    )
                }
            ),
            "description": "Only when a remote post gave the size.",
        },
        "pleroma": closed({"mime_type": STRING}),
    },
    optional=("meta",),
)

MENTION = closed({"id": ID, "acct": STRING, "username": STRING, "url": STRING})

TAG = closed({"name": STRING, "url": STRING})

VISIBILITY = enum("public", "unlisted", "private", "direct")

STATUS = closed(
    {
        "id": ID,
        "uri": STRING,
        "url": STRING,
        "account": ref("Account"),
        "in_reply_to_id": nullable(ID),
        "in_reply_to_account_id": nullable(ID),
        "reblog": nullable(ref("Status")),
        "card": NULL,
        "content": STRING,
        "created_at": DATETIME,
        "reblogs_count": INTEGER,
        "replies_count": INTEGER,
        "favourites_count": INTEGER,
        "reblogged": BOOLEAN,
        "favourited": BOOLEAN,
        "bookmarked": BOOLEAN,
        "muted": BOOLEAN,
        "pinned": BOOLEAN,
        "sensitive": BOOLEAN,
        "spoiler_text": STRING,
        "visibility": VISIBILITY,
        "media_attachments": array(ref("Attachment")),
        "poll": NULL,
        "mentions": array(ref("Mention")),
        "tags": array(ref("Tag")),
        "application": {
            **closed({"name": STRING, "website": NULL}),
            "description": "The posting app is not recorded: always Web.",
        },
        "language": {**NULL, "description": "Not detected: always null."},
        "emojis": array(ref("Emoji")),
        "text": STRING,
        "pleroma": closed(
            {
                "local": BOOLEAN,
                "conversation_id": INTEGER,
                "in_reply_to_account_acct": nullable(STRING),
                "content": closed({"text/plain": STRING}),
                "spoiler_text": closed({"text/plain": STRING}),
            },
            optional=("conversation_id", "in_reply_to_account_acct", "content", "spoiler_text"),
        ),
    },
    optional=("card", "poll", "text"),
)
STATUS["description"] = (
    "A reblog is the reblogger's entry around the original in `reblog`; it has"
    " no `card` or `poll` and its `pleroma` only `local`.  `text` (the source)"
    " is only in the answer to DELETE."
)

STATUS_EDIT = closed(
    {
        "content": STRING,
        "spoiler_text": STRING,
        "sensitive": BOOLEAN,
        "created_at": DATETIME,
        "account": ref("Account"),
        "media_attachments": array(ref("Attachment")),
        "emojis": array(ref("Emoji")),
    }
)
STATUS_EDIT["description"] = (
    "A version of a status: `created_at` is when it was written (the post's own time"
    " for the first)."
)

STATUS_SOURCE = closed({"id": ID, "text": STRING, "spoiler_text": STRING})

NOTIFICATION = closed(
    {
        "id": ID,
        "type": enum("mention", "favourite", "reblog", "follow", "pleroma:report"),
        "created_at": DATETIME,
        "account": ref("Account"),
        "status": ref("Status"),
        "report": ref("AdminReport"),
        "pleroma": closed({"is_seen": BOOLEAN}),
    },
    optional=("status", "report"),
)
NOTIFICATION["description"] = (
    "`status` is there for mention, favourite and reblog; `report` for pleroma:report (admins"
    " and moderators are told of every new report)."
)

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

ADMIN_USER = closed(
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
)

INVITE = closed(
    {
        "id": INTEGER,
        "token": STRING,
        "used": BOOLEAN,
        "expires_at": nullable({"type": "string", "format": "date"}),
        "uses": INTEGER,
        "max_use": nullable(INTEGER),
        "invite_type": enum("one_time", "reusable", "date_limited", "reusable_date_limited"),
    }
)

REPORT_NOTE = closed(
    {"id": ID, "user": ref("AdminUser"), "content": STRING, "created_at": DATETIME}
)

ADMIN_REPORT = closed(
    {
        "id": ID,
        "state": enum("open", "resolved", "closed"),
        "account": ref("AdminUser"),
        "actor": ref("AdminUser"),
        "content": STRING,
        "category": enum("spam", "legal", "violation", "other"),
        "rules": array(STRING),
        "forwarded": BOOLEAN,
        "created_at": DATETIME,
        "statuses": {
            **array(ref("Status")),
            "description": "As they were when reported (deleted ones too).",
        },
        "notes": array(ref("ReportNote")),
    }
)

REPORT = closed(
    {
        "id": ID,
        "action_taken": BOOLEAN,
        "action_taken_at": NULL,
        "category": enum("spam", "legal", "violation", "other"),
        "comment": STRING,
        "forwarded": BOOLEAN,
        "created_at": DATETIME,
        "status_ids": array(ID),
        "rule_ids": array(ID),
        "target_account": ref("Account"),
    }
)

MODERATION_LOG_ENTRY = closed(
    {
        "id": ID,
        "data": {"type": "object", "description": "Who (actor), what (action), whom (subject)."},
        "time": {"type": "integer", "description": "Unix time, in seconds."},
        "message": STRING,
    }
)

CUSTOM_EMOJI = closed(
    {
        "shortcode": STRING,
        "url": STRING,
        "static_url": STRING,
        "visible_in_picker": BOOLEAN,
        "tags": array(STRING),
        "category": {
            **STRING,
            "description": "The emoji's tags but the default one, joined by commas.",
        },
    }
)

PLEROMA_EMOJI = closed(
    {
        "image_url": {**STRING, "description": "The file's path on this server."},
        "tags": array(STRING),
    }
)

APP = closed(
    {
        "id": ID,
        "name": STRING,
        "client_id": STRING,
        "client_secret": STRING,
        "redirect_uri": {
            "type": "string",
            "description": "The redirect URIs as registered (several are space-separated).",
        },
        "website": nullable(STRING),
    }
)

TOKEN = closed(
    {
        "token_type": {"const": "Bearer"},
        "access_token": STRING,
        "refresh_token": STRING,
        "expires_in": {
            "type": "integer",
            "description": "Reported for clients that want one; tokens never expire.",
        },
        "scope": {"type": "string", "description": "The granted scopes, space-separated."},
        "created_at": {"type": "integer", "description": "Unix time."},
        "me": {"type": "string", "description": "The account's ActivityPub id."},
    },
    optional=("me",),
)

TOKEN["description"] = "`me` only for a token acting for an account (not client_credentials)."

HEALTH = closed(
    {
        "pool_size": INTEGER,
        "active": {"type": "integer", "description": "Busy connections, this check's too."},
        "idle": INTEGER,
        "memory_used": {"type": "number", "description": "Resident memory, in MiB."},
        "healthy": BOOLEAN,
    }
)

SEARCH_HASHTAG = closed(
    {"name": STRING, "url": STRING, "history": {"type": "array", "maxItems": 0}}
)

SEARCH_HASHTAG["description"] = "A `#tag` the query names; no usage history is kept."

SEARCH_RESULTS = closed(
    {
        "accounts": array(ref("Account")),
        "statuses": array(ref("Status")),
        "hashtags": array(ref("SearchHashtag")),
    }
)

SEARCH_RESULTS["description"] = "The lists `type` did not ask for are empty."

CONTEXT = closed({"ancestors": array(ref("Status")), "descendants": array(ref("Status"))})

# Any JSON value a request may carry (PostgreSQL's text and jsonb hold no NUL).
JSON_VALUE: Schema = {
    "anyOf": [
        {"type": "string", **TEXT},
        {"type": ["number", "boolean", "null"]},
        array(ref("Json")),
        {"type": "object", "propertyNames": TEXT, "additionalProperties": ref("Json")},
    ]
}

SCHEMAS: dict[str, Schema] = {
    **activitypub.SCHEMAS,
    **discovery.SCHEMAS,
    "Error": ERROR,
    "Json": JSON_VALUE,
    "Emoji": EMOJI,
    "Relationship": RELATIONSHIP,
    "NotificationSettings": NOTIFICATION_SETTINGS,
    "Account": ACCOUNT,
    "Attachment": ATTACHMENT,
    "Mention": MENTION,
    "Tag": TAG,
    "Status": STATUS,
    "StatusEdit": STATUS_EDIT,
    "StatusSource": STATUS_SOURCE,
    "Notification": NOTIFICATION,
    "Instance": INSTANCE,
    "TwitterUser": TWITTER_USER,
    "AccountToken": ACCOUNT_TOKEN,
    "AdminUser": ADMIN_USER,
    "Invite": INVITE,
    "ReportNote": REPORT_NOTE,
    "AdminReport": ADMIN_REPORT,
    "Report": REPORT,
    "ModerationLogEntry": MODERATION_LOG_ENTRY,
    "CustomEmoji": CUSTOM_EMOJI,
    "PleromaEmoji": PLEROMA_EMOJI,
    "App": APP,
    "Token": TOKEN,
    "Health": HEALTH,
    "SearchHashtag": SEARCH_HASHTAG,
    "SearchResults": SEARCH_RESULTS,
    "Context": CONTEXT,
}

# Answers and errors several capabilities share.

NO_ACCOUNT = "No such account (by id or nickname), or the reader may not see it."
HIDDEN_STATUS = "No such status, or the reader may not see it."
ACCOUNTS_PAGE = answer(
    array(ref("Account")),
    "The accounts, newest first, paged by their entries' ids; accounts the"
    " reader may not see are left out of the body (a page may be short).",
    **PAGINATED,
)
SUCCESS = answer(closed({"status": enum("success")}), "Done.")

# Fields several capabilities take, with the rules of pleromad.domain.registration.

NICKNAME_FIELD: Schema = {
    "type": "string",
    "pattern": "^[a-zA-Z0-9]+$",
    "maxLength": 100,
    "description": "Letters and digits; not one of the instance's reserved nicknames.",
}
EMAIL_FIELD: Schema = {
    "type": "string",
    "pattern": (
        "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*"
        "@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
        "(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
    ),
    "maxLength": 254,
}
