"""The entities several families answer with (:mod:`pleromad.views`), as
schemas with exactly their keys."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    DATETIME,
    ID,
    INTEGER,
    NULL,
    NUMBER,
    STRING,
    Schema,
    array,
    closed,
    enum,
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

NOTIFICATION = closed(
    {
        "id": ID,
        "type": enum("mention", "favourite", "reblog", "follow"),
        "created_at": DATETIME,
        "account": ref("Account"),
        "status": ref("Status"),
        "pleroma": closed({"is_seen": BOOLEAN}),
    },
    optional=("status",),
)
NOTIFICATION["description"] = "`status` is there for mention, favourite and reblog."

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "Emoji": EMOJI,
    "Relationship": RELATIONSHIP,
    "NotificationSettings": NOTIFICATION_SETTINGS,
    "Account": ACCOUNT,
    "Attachment": ATTACHMENT,
    "Mention": MENTION,
    "Tag": TAG,
    "Status": STATUS,
    "Notification": NOTIFICATION,
}
