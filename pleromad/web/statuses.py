"""Statuses, favourites and reblogs: `/api/v1/statuses/*`, `/api/v1/favourites`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pleromad.domain import profile, statuses
from pleromad.domain.statuses import NO_POLLS, NO_SCHEDULING, InvalidStatus, StatusForm
from pleromad.model import Listed, Loaded, User
from pleromad.runtime import Runtime
from pleromad.views.statuses import render_status, render_statuses
from pleromad.web.accounts import paginated_accounts, reader
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.pagination import (
    ACCOUNTS_MAX_LIMIT,
    STATUSES_MAX_LIMIT,
    Page,
    page_params,
    paginated,
)
from pleromad.web.params import Params

# statuses.favourite, .reblog, ...: (rt, status id, user) -> the status to show.
Action = Callable[[Runtime, str, User], Awaitable[Loaded]]
# statuses.favourited_by or .reblogged_by: (rt, status id, viewer, page) -> accounts.
Listing = Callable[[Runtime, str, User | None, Page], Awaitable[list[Listed]]]


class StatusesApi:
    app = api_app()
    prefixes = ("/api/v1/statuses", "/api/v1/favourites")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _one(self, loaded: Loaded, viewer: User | None) -> Any:
        hidden = profile.hidden_accounts(loaded.users.values(), viewer, self.rt.config)
        return render_status(loaded, config=self.rt.config, viewer=viewer, hidden=hidden)

    def _many(self, loaded: Loaded, viewer: User | None, ids: Any = None) -> list[Any]:
        hidden = profile.hidden_accounts(loaded.users.values(), viewer, self.rt.config)
        return render_statuses(loaded, config=self.rt.config, viewer=viewer, hidden=hidden, ids=ids)

    @route(app, "/api/v1/statuses", "POST", auth=Auth.REQUIRED, scope="write")
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

    @route(app, "/api/v1/statuses", "GET", auth=Auth.READ_OR_PUBLIC)
    async def several(self, call: Call) -> Any:
        """The statuses ``id[]`` names that the reader may see, in that order."""
        viewer = reader(call)
        loaded = await statuses.get_statuses(self.rt, call.params.list("id"), viewer)
        return self._many(loaded, viewer)

    @route(app, "/api/v1/statuses/<id>", "GET", auth=Auth.READ_OR_PUBLIC)
    async def show(self, call: Call) -> Any:
        viewer = reader(call)
        loaded = await statuses.get_status(self.rt, call.params.required_str("id"), viewer)
        return self._one(loaded, viewer)

    @route(app, "/api/v1/statuses/<id>", "DELETE", auth=Auth.REQUIRED, scope="write")
    async def delete(self, call: Call) -> Any:
        """The deleted status, with its source ``text`` (for "delete and redraft")."""
        loaded = await statuses.delete_status(self.rt, call.params.required_str("id"), call.user)
        body = self._one(loaded, call.user)
        body["text"] = loaded.statuses[loaded.order[0]].status.source
        return body

    @route(app, "/api/v1/statuses/<id>/context", "GET", auth=Auth.READ_OR_PUBLIC)
    async def context(self, call: Call) -> Any:
        viewer = reader(call)
        found = await statuses.context(self.rt, call.params.required_str("id"), viewer)
        return {
            "ancestors": self._many(found.loaded, viewer, found.ancestors),
            "descendants": self._many(found.loaded, viewer, found.descendants),
        }

    # -- favourites and reblogs (DECISIONS 7) --

    @route(app, "/api/v1/statuses/<id>/favourite", "POST", auth=Auth.REQUIRED, scope="write")
    async def favourite(self, call: Call) -> Any:
        return await self._act(call, statuses.favourite)

    @route(app, "/api/v1/statuses/<id>/unfavourite", "POST", auth=Auth.REQUIRED, scope="write")
    async def unfavourite(self, call: Call) -> Any:
        return await self._act(call, statuses.unfavourite)

    @route(app, "/api/v1/statuses/<id>/reblog", "POST", auth=Auth.REQUIRED, scope="write")
    async def reblog(self, call: Call) -> Any:
        """The reblog, wrapping the original."""
        return await self._act(call, statuses.reblog)

    @route(app, "/api/v1/statuses/<id>/unreblog", "POST", auth=Auth.REQUIRED, scope="write")
    async def unreblog(self, call: Call) -> Any:
        """The original, no longer reblogged."""
        return await self._act(call, statuses.unreblog)

    async def _act(self, call: Call, action: Action) -> Any:
        loaded = await action(self.rt, call.params.required_str("id"), call.user)
        return self._one(loaded, call.user)

    @route(app, "/api/v1/statuses/<id>/favourited_by", "GET", auth=Auth.READ_OR_PUBLIC)
    async def favourited_by(self, call: Call) -> Any:
        return await self._who(call, statuses.favourited_by)

    @route(app, "/api/v1/statuses/<id>/reblogged_by", "GET", auth=Auth.READ_OR_PUBLIC)
    async def reblogged_by(self, call: Call) -> Any:
        return await self._who(call, statuses.reblogged_by)

    async def _who(self, call: Call, listing: Listing) -> Any:
        viewer = reader(call)
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        listed = await listing(self.rt, call.params.required_str("id"), viewer, page)
        return await paginated_accounts(self.rt, call, listed, viewer)

    @route(app, "/api/v1/favourites", "GET", auth=Auth.REQUIRED, scope="read")
    async def favourites(self, call: Call) -> Any:
        """The reader's favourites, newest favourite first, paginated by the
        favourite's id."""
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        loaded, cursors = await statuses.favourites(self.rt, call.user, page)
        return paginated(
            call, self._many(loaded, call.user), cursors, base_url=self.rt.config.server.base_url
        )


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
