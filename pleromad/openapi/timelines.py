"""The home and public timelines (pleromad.web.timelines).

An account's statuses are described with the accounts, its favourites with
the Pleroma family."""

from __future__ import annotations

from pleromad.openapi.spec import (
    FLAG,
    PAGINATED,
    Operation,
    Schema,
    answer,
    array,
    page_fields,
    ref,
)

TAG = "Timelines"

FILTERS: dict[str, Schema] = {
    **page_fields(40),
    "only_media": {**FLAG, "description": "Only statuses with attachments."},
    "exclude_replies": {**FLAG, "description": "Leave replies out."},
    "exclude_reblogs": {**FLAG, "description": "Leave reblogs out."},
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/v1/timelines/home"): Operation(
        "The caller's own statuses, its follows' and those mentioning it, newest first.",
        responses={200: answer(array(ref("Status")), **PAGINATED)},
        fields=FILTERS,
    ),
    ("GET", "/api/v1/timelines/public"): Operation(
        "Public statuses the reader may see, newest first.",
        description="A token without the `read` scope reads it as anyone does.",
        responses={200: answer(array(ref("Status")), **PAGINATED)},
        fields={**FILTERS, "local": {**FLAG, "description": "Only this instance's statuses."}},
    ),
}
