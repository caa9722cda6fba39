"""Timelines: the reader's home, the public timeline and an account's statuses."""

from __future__ import annotations

from typing import Any

from pleromad.domain import timelines
from pleromad.model import StatusFilters
from pleromad.openapi.entities import NO_ACCOUNT
from pleromad.openapi.spec import (
    FLAG,
    PAGINATED,
    Operation,
    Schema,
    answer,
    array,
    note,
    page_fields,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import status_page
from pleromad.web.pagination import STATUSES_MAX_LIMIT, page_params
from pleromad.web.params import Params


def status_filters(params: Params, *, local: bool = False, account: bool = False) -> StatusFilters:
    """The filters of a status listing: ``only_media``, ``exclude_replies``
    and ``exclude_reblogs`` (booleans; anything else is a 400), ``local`` and
    ``remote`` on the public timeline (Mastodon's federated-only view; both
    together leave nothing, as there) and ``tagged`` on an account's statuses."""
    return StatusFilters(
        only_media=bool(params.bool("only_media", False)),
        exclude_replies=bool(params.bool("exclude_replies", False)),
        exclude_reblogs=bool(params.bool("exclude_reblogs", False)),
        local_only=local and bool(params.bool("local", False)),
        remote_only=local and bool(params.bool("remote", False)),
        tagged=(params.str("tagged") or None) if account else None,
    )


STATUS_FILTERS: dict[str, Schema] = {
    "only_media": {**FLAG, "description": "Only statuses with attachments."},
    "exclude_replies": {**FLAG, "description": "Leave replies out."},
    "exclude_reblogs": {**FLAG, "description": "Leave reblogs out."},
}

FILTERS: dict[str, Schema] = {**page_fields(STATUSES_MAX_LIMIT), **STATUS_FILTERS}


class TimelinesApi:
    app = api_app()
    tag = "Timelines"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/timelines/home",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The caller's own statuses, its follows' and those mentioning it, newest first.",
            responses={200: answer(array(ref("Status")), **PAGINATED)},
            fields=FILTERS,
        ),
    )
    async def home(self, call: Call) -> Any:
        """The reader's own statuses and those of the accounts they follow."""
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        filters = status_filters(call.params)
        listing = await timelines.home(self.rt, call.user, page, filters)
        return status_page(self.rt, call, listing, call.user)

    @route(
        app,
        "/api/v1/timelines/public",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "Public statuses the reader may see, newest first.",
            description="A token without the `read` scope reads it as anyone does.",
            responses={200: answer(array(ref("Status")), **PAGINATED)},
            fields={
                **FILTERS,
                "local": {**FLAG, "description": "Only this instance's statuses."},
                "remote": {**FLAG, "description": "Only other servers' statuses."},
            },
        ),
    )
    async def public(self, call: Call) -> Any:
        """Public statuses; ``local=true`` keeps this instance's only,
        ``remote=true`` other servers' only."""
        viewer = call.reader
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        filters = status_filters(call.params, local=True)
        listing = await timelines.public(self.rt, viewer, page, filters)
        return status_page(self.rt, call, listing, viewer)

    @route(
        app,
        "/api/v1/accounts/<id>/statuses",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
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
    )
    async def account_statuses(self, call: Call) -> Any:
        """The account's statuses and reblogs the reader may see;
        ``pinned=true`` lists none."""
        params = call.params
        viewer = call.reader
        page = page_params(params, STATUSES_MAX_LIMIT)
        filters = status_filters(params, account=True)
        pinned = bool(params.bool("pinned", False))
        listing = await timelines.account_statuses(
            self.rt, params.required_str("id"), viewer, page, filters, pinned=pinned
        )
        return status_page(self.rt, call, listing, viewer)
