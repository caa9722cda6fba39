"""Notifications: listing, reading, dismissing and clearing them
(:mod:`pleromad.web.notifications`), Pleroma's notification settings and
marking one seen (:mod:`pleromad.web.pleroma_notifications`)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    FLAG,
    ID,
    PAGINATED,
    STRING,
    Operation,
    Schema,
    answer,
    array,
    closed,
    enum,
    page_fields,
    ref,
)

TAG = "Notifications"

_ID = {"id": ID}
_TYPE: Schema = {
    **STRING,
    "description": "mention, favourite, reblog or follow; other values match no notification.",
}
_EMPTY = answer(closed({}), "Done.")
_SUCCESS = answer(closed({"status": enum("success")}), "Done.")
_CANNOT_DISMISS = (
    "Invalid credentials, a token without `read`, or an id that names no"
    " notification of the reader's."
)
_DISMISS = Operation(
    "Dismiss one notification.",
    responses={200: _EMPTY},
    fields={"id": ID},
    required=("id",),
    description="Deletes it for good.",
    errors={403: _CANNOT_DISMISS},
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/v1/notifications"): Operation(
        "The reader's notifications.",
        responses={
            200: answer(
                array(ref("Notification")),
                "Newest first; a notification about a status the reader may not"
                " see is left out (a page may be short).",
                **PAGINATED,
            )
        },
        fields={
            **page_fields(80),
            "types": array({**_TYPE, "description": "Only these types, when given."}),
            "exclude_types": array({**_TYPE, "description": "Not these types."}),
            "with_muted": {**FLAG, "description": "Include notifications from muted accounts."},
        },
    ),
    ("GET", "/api/v1/notifications/{id}"): Operation(
        "One of the reader's notifications.",
        responses={200: answer(ref("Notification"))},
        path=_ID,
        errors={
            404: "No notification of the reader's has this id, or its status is"
            " one the reader may no longer see."
        },
    ),
    ("POST", "/api/v1/notifications/clear"): Operation(
        "Delete all the reader's notifications.",
        responses={200: _EMPTY},
    ),
    ("POST", "/api/v1/notifications/dismiss"): _DISMISS,
    ("POST", "/api/v1/notifications/{id}/dismiss"): Operation(
        "Dismiss one notification (Mastodon 3's path).",
        responses={200: _EMPTY},
        path=_ID,
        description="Deletes it for good.",
        errors={403: _CANNOT_DISMISS},
    ),
    ("PUT", "/api/pleroma/notification_settings"): Operation(
        "Change the reader's notification settings.",
        responses={200: _SUCCESS},
        fields={
            "followers": {**FLAG, "description": "Notifications from the reader's followers."},
            "follows": {**FLAG, "description": "From the accounts the reader follows."},
            "non_followers": {**FLAG, "description": "From accounts not following the reader."},
            "non_follows": {**FLAG, "description": "From accounts the reader does not follow."},
            "remote": {**FLAG, "description": "From remote accounts."},
            "local": {**FLAG, "description": "From local accounts."},
        },
        description=(
            "Each setting given is changed, the others kept (all default to"
            " true); other parameters are ignored.  A setting that is not a"
            " boolean is a 400 and nothing changes."
        ),
    ),
    ("POST", "/api/pleroma/notifications/read"): Operation(
        "Mark one notification seen.",
        responses={200: _SUCCESS},
        fields={"id": ID},
        required=("id",),
        errors={
            403: "Invalid credentials, a token without `write`, or an id that"
            " names no notification of the reader's."
        },
    ),
}
