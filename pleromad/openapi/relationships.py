"""Follow requests, the caller's blocks and mutes, following by address, and
search (pleromad.web.relationships).

The relationship actions on one account (/api/v1/accounts/{id}/follow, ...)
are described with the accounts."""

from __future__ import annotations

from pleromad.openapi.spec import (
    FLAG,
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

TAG = "Relationships"

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

SCHEMAS: dict[str, Schema] = {"SearchHashtag": SEARCH_HASHTAG, "SearchResults": SEARCH_RESULTS}

NO_REQUEST = (
    "No account the caller may see by this id or nickname has a follow request"
    " waiting for the caller."
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/v1/follow_requests"): Operation(
        "The accounts waiting for the caller to answer their follow request.",
        description="Newest request first.",
        responses={200: answer(array(ref("Account")), **PAGINATED)},
        fields=page_fields(80),
    ),
    ("GET", "/api/v1/blocks"): Operation(
        "The accounts the caller blocks.",
        description="Newest block first; deactivated accounts are left out.",
        responses={200: answer(array(ref("Account")), **PAGINATED)},
        fields=page_fields(80),
    ),
    ("GET", "/api/v1/mutes"): Operation(
        "The accounts the caller mutes.",
        description="Newest mute first; deactivated accounts are left out.",
        responses={200: answer(array(ref("Account")), **PAGINATED)},
        fields=page_fields(80),
    ),
    ("POST", "/api/v1/follow_requests/{id}/authorize"): Operation(
        "Accept an account's follow request.",
        responses={200: answer(ref("Relationship"), "The caller's relationship to the requester.")},
        errors={404: NO_REQUEST},
    ),
    ("POST", "/api/v1/follow_requests/{id}/reject"): Operation(
        "Refuse an account's follow request.",
        responses={200: answer(ref("Relationship"), "The caller's relationship to the requester.")},
        errors={404: NO_REQUEST},
    ),
    ("POST", "/api/v1/follows"): Operation(
        "Follow an account by its address.",
        description=(
            "`uri` is `nick`, `@nick` or `nick@our-host`, never an id; without"
            " federation any other address names nobody."
        ),
        responses={200: answer(ref("Account"), "The followed account.")},
        fields={"uri": STRING},
        required=("uri",),
        errors={
            403: (
                "Invalid credentials or scope; or the follow is refused: the target"
                " is deactivated, blocks the caller or is blocked by the caller."
            ),
            404: "No local account the caller may see by that address, or the caller's own.",
        },
    ),
    ("GET", "/api/v2/search"): Operation(
        "Search accounts, statuses and hashtags.",
        description=(
            "Accounts as /api/v1/accounts/search finds them (an exact nickname"
            " first), statuses the reader may see holding every word of the"
            " query, and the `#tags` the query names (DECISIONS 25)."
        ),
        responses={200: answer(ref("SearchResults"))},
        fields={
            "q": STRING,
            "type": {
                **enum("accounts", "statuses", "hashtags"),
                "description": "Only this list (another value leaves all three empty).",
            },
            "limit": {
                "type": "integer",
                "description": "Per list; default 20, at most 40; 0 or less: nothing.",
            },
            "offset": {"type": "integer", "description": "Entries to skip per list; default 0."},
            "resolve": {**FLAG, "description": "Accepted; nothing remote is resolved."},
            "following": {
                **FLAG,
                "description": ("Only accounts the reader follows (none for an anonymous reader)."),
            },
        },
        required=("q",),
    ),
}
