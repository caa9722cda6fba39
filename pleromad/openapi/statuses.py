"""Statuses: posting, reading, threads, deleting, favourites and reblogs
(:mod:`pleromad.web.statuses`)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    ID,
    PAGINATED,
    STRING,
    Operation,
    Schema,
    answer,
    array,
    closed,
    enum,
    flag,
    page_fields,
    ref,
)

TAG = "Statuses"

SCHEMAS: dict[str, Schema] = {
    "Context": closed({"ancestors": array(ref("Status")), "descendants": array(ref("Status"))}),
}

_ID = {"id": ID}
_HIDDEN = "No such status, or the reader may not see it."
_STATUS = answer(ref("Status"))

_POST_FIELDS: dict[str, Schema] = {
    "status": {**STRING, "description": "The text; may be empty when media_ids are given."},
    "spoiler_text": {**STRING, "description": "The content warning; counts toward the limit."},
    "content_type": {
        **STRING,
        "description": "text/plain (the default), text/markdown or text/html; any other"
        " value is text/plain.",
    },
    "visibility": {
        **enum("public", "unlisted", "private", "direct"),
        "description": "Case is ignored; by default the replied-to status' visibility, else"
        " public.",
    },
    "sensitive": {**flag(""), "description": "An empty value is false."},
    "in_reply_to_id": {**ID, "description": "The status replied to (its original, for a reblog)."},
    "media_ids": array({**ID, "description": "An attachment of the author's."}),
    "poll": {"description": "Not supported: any non-empty value is a 422."},
    "scheduled_at": {**STRING, "description": "Not supported: any non-empty value is a 422."},
}

_ACCOUNTS_PAGE = answer(
    array(ref("Account")),
    "The accounts, newest first, paged by their entries' ids; accounts the"
    " reader may not see are left out of the body (a page may be short).",
    **PAGINATED,
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/v1/statuses"): Operation(
        "Post a status.",
        responses={200: answer(ref("Status"), "The new status.")},
        fields=_POST_FIELDS,
        description=(
            "Everything is checked before anything is written.  Under an"
            " `Idempotency-Key` the status and the answer remembered for the key"
            " are written together: a key posts one status, even across a crash."
        ),
        errors={
            404: "in_reply_to_id names no status the author may see.",
            422: "Over the character limit, empty without attachments, an unknown"
            " visibility, media_ids that are not the author's attachments, a reply"
            " to a direct status that is not direct, or a poll or scheduled_at.",
        },
    ),
    ("GET", "/api/v1/statuses"): Operation(
        "Several statuses by id.",
        responses={
            200: answer(
                array(ref("Status")),
                "The statuses named that the reader may see, in the order asked;"
                " the others are left out.",
            )
        },
        fields={"id": array(ID)},
    ),
    ("GET", "/api/v1/statuses/{id}"): Operation(
        "A status the reader may see.",
        responses={200: _STATUS},
        path=_ID,
        errors={404: _HIDDEN},
    ),
    ("DELETE", "/api/v1/statuses/{id}"): Operation(
        "Delete a status.",
        responses={
            200: answer(
                ref("Status"),
                "The status as it was, with its source `text` (for delete and redraft).",
            )
        },
        path=_ID,
        description="The author's own status, or any the reader sees as a moderator or admin.",
        errors={
            403: "Invalid credentials, a token without `write`, or a status of"
            " someone else and a reader who is not a moderator.",
            404: _HIDDEN,
        },
    ),
    ("GET", "/api/v1/statuses/{id}/context"): Operation(
        "The thread around a status.",
        responses={
            200: answer(
                ref("Context"),
                "The ancestors (oldest first) and descendants the reader may see,"
                " around the original of a reblog.",
            )
        },
        path=_ID,
        errors={404: _HIDDEN},
    ),
    ("POST", "/api/v1/statuses/{id}/favourite"): Operation(
        "Favourite a status.",
        responses={200: answer(ref("Status"), "The status (the original of a reblog).")},
        path=_ID,
        description="Idempotent: favouriting again changes nothing; the author is notified once.",
        errors={404: _HIDDEN},
    ),
    ("POST", "/api/v1/statuses/{id}/unfavourite"): Operation(
        "Undo a favourite.",
        responses={200: answer(ref("Status"), "The status (the original of a reblog).")},
        path=_ID,
        description="Idempotent: a status not favourited is answered as it is.",
        errors={404: _HIDDEN},
    ),
    ("POST", "/api/v1/statuses/{id}/reblog"): Operation(
        "Reblog a status.",
        responses={200: answer(ref("Status"), "The reblog, wrapping the original.")},
        path=_ID,
        description="Idempotent: reblogging again answers the same reblog.",
        errors={
            403: "Invalid credentials, a token without `write`, or a status that"
            " is neither public nor unlisted.",
            404: _HIDDEN,
        },
    ),
    ("POST", "/api/v1/statuses/{id}/unreblog"): Operation(
        "Undo a reblog.",
        responses={200: answer(ref("Status"), "The original, no longer reblogged by the reader.")},
        path=_ID,
        description="Idempotent: a status not reblogged is answered as it is.",
        errors={404: _HIDDEN},
    ),
    ("GET", "/api/v1/statuses/{id}/favourited_by"): Operation(
        "Who favourited a status.",
        responses={200: _ACCOUNTS_PAGE},
        fields=page_fields(80),
        path=_ID,
        errors={404: _HIDDEN},
    ),
    ("GET", "/api/v1/statuses/{id}/reblogged_by"): Operation(
        "Who reblogged a status.",
        responses={200: _ACCOUNTS_PAGE},
        fields=page_fields(80),
        path=_ID,
        errors={404: _HIDDEN},
    ),
    ("GET", "/api/v1/favourites"): Operation(
        "The reader's favourites.",
        responses={
            200: answer(
                array(ref("Status")),
                "Newest favourite first, paged by the favourite's id; statuses the"
                " reader may no longer see are left out.",
                **PAGINATED,
            )
        },
        fields=page_fields(40),
    ),
}
