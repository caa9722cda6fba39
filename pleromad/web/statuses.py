"""Statuses: posting, reading, deleting, their context, and reblogs
(`/api/v1/statuses/*`); favourites are :mod:`pleromad.web.favourites`."""

from __future__ import annotations

import html
from typing import Any

from pleromad.domain import profile, statuses
from pleromad.domain.statuses import NO_POLLS, NO_SCHEDULING, InvalidStatus, StatusForm
from pleromad.model import Loaded, User
from pleromad.openapi.entities import ACCOUNTS_PAGE, HIDDEN_STATUS
from pleromad.openapi.spec import (
    ID,
    NON_BLANK,
    STRING,
    Operation,
    Schema,
    answer,
    array,
    enum,
    flag,
    page_fields,
    present,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.statuses import render_history
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import account_page, status_json, statuses_json
from pleromad.web.pagination import ACCOUNTS_MAX_LIMIT, page_params
from pleromad.web.params import Params

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
    "poll": {"enum": [None, "", {}, []], "description": "Not supported: only an empty value."},
    "scheduled_at": {"const": "", "description": "Not supported: only an empty value."},
}


# What an edit may change; the rest of a post stays as it was posted.
_EDIT_FIELDS = {
    name: _POST_FIELDS[name]
    for name in ("status", "spoiler_text", "content_type", "sensitive", "media_ids", "poll")
}


class StatusesApi:
    app = api_app()
    tag = "Statuses"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _one(self, loaded: Loaded, viewer: User | None) -> Any:
        return status_json(self.rt, loaded, viewer)

    def _many(self, loaded: Loaded, viewer: User | None, ids: Any = None) -> list[Any]:
        return statuses_json(self.rt, loaded, viewer, ids)

    @route(
        app,
        "/api/v1/statuses",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Post a status.",
            responses={200: answer(ref("Status"), "The new status.")},
            fields=_POST_FIELDS,
            any_of=(
                present("status", status=NON_BLANK),
                present("media_ids", media_ids={"minItems": 1}),
            ),
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
    )
    async def post(self, call: Call) -> Any:
        """Post a status; under an Idempotency-Key its answer is remembered
        with the post itself (see :func:`statuses.post_status`)."""
        author = call.user
        return await statuses.post_status(
            self.rt,
            author,
            status_form(call.params),
            render=lambda loaded: self._one(loaded, author),
            claim=call.claim,
        )

    @route(
        app,
        "/api/v1/statuses",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
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
    )
    async def several(self, call: Call) -> Any:
        """The statuses ``id[]`` names that the reader may see, in that order."""
        viewer = call.reader
        loaded = await statuses.get_statuses(self.rt, call.params.list("id"), viewer)
        return self._many(loaded, viewer)

    @route(
        app,
        "/api/v1/statuses/<id>",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "A status the reader may see.",
            responses={200: _STATUS},
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def show(self, call: Call) -> Any:
        viewer = call.reader
        loaded = await statuses.get_status(self.rt, call.params.required_str("id"), viewer)
        return self._one(loaded, viewer)

    @route(
        app,
        "/api/v1/statuses/<id>",
        "DELETE",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Delete a status.",
            responses={
                200: answer(
                    ref("Status"),
                    "The status as it was, with its source `text` (for delete and redraft).",
                )
            },
            description="The author's own status, or any the reader sees as a moderator or admin.",
            errors={
                403: "Invalid credentials, a token without `write`, or a status of"
                " someone else and a reader who is not a moderator.",
                404: HIDDEN_STATUS,
            },
        ),
    )
    async def delete(self, call: Call) -> Any:
        """The deleted status, with its source ``text`` (for "delete and redraft")."""
        loaded = await statuses.delete_status(self.rt, call.params.required_str("id"), call.user)
        body = self._one(loaded, call.user)
        body["text"] = loaded.statuses[loaded.order[0]].status.source
        return body

    @route(
        app,
        "/api/v1/statuses/<id>",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Edit a status.",
            responses={200: answer(ref("Status"), "The status as edited.")},
            fields=_EDIT_FIELDS,
            any_of=(
                present("status", status=NON_BLANK),
                present("media_ids", media_ids={"minItems": 1}),
            ),
            description=(
                "The author's own post: its text, spoiler, sensitivity and attachments,"
                " checked as a new post is.  The version replaced is kept (see"
                " `/history`), and the post's `Update` goes where its `Create` went."
                " Its Status does not say that it was edited (DECISIONS 45)."
            ),
            errors={
                403: "Invalid credentials, a token without `write`, or a status of someone else.",
                404: HIDDEN_STATUS,
                422: "Over the character limit, empty without attachments, media_ids that"
                " are not the author's attachments, or a poll.",
            },
        ),
    )
    async def edit(self, call: Call) -> Any:
        author = call.user
        loaded = await statuses.edit_status(
            self.rt, call.params.required_str("id"), author, status_form(call.params)
        )
        return self._one(loaded, author)

    @route(
        app,
        "/api/v1/statuses/<id>/history",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "The versions of a status.",
            responses={
                200: answer(
                    array(ref("StatusEdit")),
                    "Each version its edits replaced, oldest first, then the status as it"
                    " is: a status never edited has one.",
                )
            },
            errors={404: HIDDEN_STATUS + "  A reblog has no history."},
        ),
    )
    async def history(self, call: Call) -> Any:
        viewer = call.reader
        loaded, versions = await statuses.history(self.rt, call.params.required_str("id"), viewer)
        hidden = profile.hidden_accounts(loaded.users.values(), viewer, self.rt.config)
        return render_history(loaded, versions, config=self.rt.config, viewer=viewer, hidden=hidden)

    @route(
        app,
        "/api/v1/statuses/<id>/source",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The source of one's own status, to edit it.",
            responses={200: answer(ref("StatusSource"))},
            errors={
                403: "Invalid credentials, a token without `read`, or a status of someone else.",
                404: HIDDEN_STATUS,
            },
        ),
    )
    async def source(self, call: Call) -> Any:
        status = await statuses.source(self.rt, call.params.required_str("id"), call.user)
        return {
            "id": str(status.id),
            "text": status.source,
            "spoiler_text": html.unescape(status.spoiler_text),
        }

    @route(
        app,
        "/api/v1/statuses/<id>/context",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "The thread around a status.",
            responses={
                200: answer(
                    ref("Context"),
                    "The ancestors (oldest first) and descendants the reader may see,"
                    " around the original of a reblog.",
                )
            },
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def context(self, call: Call) -> Any:
        viewer = call.reader
        found = await statuses.context(self.rt, call.params.required_str("id"), viewer)
        return {
            "ancestors": self._many(found.loaded, viewer, found.ancestors),
            "descendants": self._many(found.loaded, viewer, found.descendants),
        }

    # -- reblogs (DECISIONS 7) --

    @route(
        app,
        "/api/v1/statuses/<id>/reblog",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Reblog a status.",
            responses={200: answer(ref("Status"), "The reblog, wrapping the original.")},
            description="Idempotent: reblogging again answers the same reblog.",
            errors={
                403: "Invalid credentials, a token without `write`, or a status that"
                " is neither public nor unlisted.",
                404: HIDDEN_STATUS,
            },
        ),
    )
    async def reblog(self, call: Call) -> Any:
        """The reblog, wrapping the original."""
        loaded = await statuses.reblog(self.rt, call.params.required_str("id"), call.user)
        return self._one(loaded, call.user)

    @route(
        app,
        "/api/v1/statuses/<id>/unreblog",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Undo a reblog.",
            responses={
                200: answer(ref("Status"), "The original, no longer reblogged by the reader.")
            },
            description="Idempotent: a status not reblogged is answered as it is.",
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def unreblog(self, call: Call) -> Any:
        """The original, no longer reblogged."""
        loaded = await statuses.unreblog(self.rt, call.params.required_str("id"), call.user)
        return self._one(loaded, call.user)

    @route(
        app,
        "/api/v1/statuses/<id>/reblogged_by",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "Who reblogged a status.",
            responses={200: ACCOUNTS_PAGE},
            fields=page_fields(80),
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def reblogged_by(self, call: Call) -> Any:
        viewer = call.reader
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        listed = await statuses.reblogged_by(self.rt, call.params.required_str("id"), viewer, page)
        return await account_page(self.rt, call, listed, viewer)


def status_form(params: Params) -> StatusForm:
    """The parameters of ``POST /api/v1/statuses``."""
    if _given(params.get("poll")):
        raise InvalidStatus(NO_POLLS)
    if _given(params.get("scheduled_at")):
        raise InvalidStatus(NO_SCHEDULING)
    content_type = params.str("content_type") or ""
    return StatusForm(
        status=params.str("status") or "",
        spoiler_text=params.str("spoiler_text") or "",
        content_type=content_type.strip().lower(),
        visibility=(params.str("visibility") or "").strip().lower() or None,
        sensitive=_lenient_bool(params, "sensitive"),
        in_reply_to_id=params.str("in_reply_to_id") or None,
        media_ids=tuple(params.list("media_ids")),
    )


def _given(value: Any) -> bool:
    return value not in (None, "", {}, [])


def _lenient_bool(params: Params, name: str) -> bool:
    """A boolean where an empty value (forms send ``sensitive=``) is false."""
    if params.get(name) == "":
        return False
    value = params.bool(name, False)
    return bool(value)
