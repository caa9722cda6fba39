"""Timelines: `/api/v1/timelines/home` and `/api/v1/timelines/public`, and
the two account timelines whose routes live with the accounts' families:
:func:`account_statuses` (`GET /api/v1/accounts/<id>/statuses`, in
:mod:`pleromad.web.accounts`) and :func:`account_favourites` (`GET
/api/v1/pleroma/accounts/<id>/favourites`, in :mod:`pleromad.web.pleroma_v1`).
"""

from __future__ import annotations

from typing import Any

from pleromad.domain import profile, timelines
from pleromad.model import StatusFilters, User
from pleromad.runtime import Runtime
from pleromad.views.statuses import render_statuses
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.pagination import STATUSES_MAX_LIMIT, page_params, paginated
from pleromad.web.params import Params


def _reader(call: Call) -> User | None:
    """The reader of a read-or-public route (a token without ``read`` was
    already made anonymous)."""
    return None if call.viewer is None else call.viewer.user


def status_filters(params: Params, *, local: bool = False, account: bool = False) -> StatusFilters:
    """The filters of a status listing: ``only_media``, ``exclude_replies``
    and ``exclude_reblogs`` (booleans; anything else is a 400), ``local`` on
    the public timeline and ``tagged`` on an account's statuses."""
    return StatusFilters(
        only_media=bool(params.bool("only_media", False)),
        exclude_replies=bool(params.bool("exclude_replies", False)),
        exclude_reblogs=bool(params.bool("exclude_reblogs", False)),
        local_only=local and bool(params.bool("local", False)),
        tagged=(params.str("tagged") or None) if account else None,
    )


def status_page(
    rt: Runtime, call: Call, listing: timelines.Listing, viewer: User | None
) -> JsonResponse:
    """A page of statuses with its Link header (keyed by the listing's keys)."""
    loaded, keys = listing
    hidden = profile.hidden_accounts(loaded.users.values(), viewer, rt.config)
    rendered = render_statuses(loaded, config=rt.config, viewer=viewer, hidden=hidden)
    return paginated(call, rendered, keys, base_url=rt.config.server.base_url)


class TimelinesApi:
    app = api_app()
    prefixes = ("/api/v1/timelines",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/timelines/home", "GET", auth=Auth.REQUIRED, scope="read")
    async def home(self, call: Call) -> Any:
        """The reader's own statuses and those of the accounts they follow."""
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        filters = status_filters(call.params)
        listing = await timelines.home(self.rt, call.user, page, filters)
        return status_page(self.rt, call, listing, call.user)

    @route(app, "/api/v1/timelines/public", "GET", auth=Auth.READ_OR_PUBLIC)
    async def public(self, call: Call) -> Any:
        """Public statuses; ``local=true`` keeps this instance's only."""
        viewer = _reader(call)
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        filters = status_filters(call.params, local=True)
        listing = await timelines.public(self.rt, viewer, page, filters)
        return status_page(self.rt, call, listing, viewer)


async def account_statuses(rt: Runtime, call: Call) -> JsonResponse:
    """``GET /api/v1/accounts/<id>/statuses`` (read-or-public): the account's
    statuses and reblogs the reader may see; ``pinned=true`` lists none."""
    params = call.params
    viewer = _reader(call)
    page = page_params(params, STATUSES_MAX_LIMIT)
    filters = status_filters(params, account=True)
    pinned = bool(params.bool("pinned", False))
    listing = await timelines.account_statuses(
        rt, params.required_str("id"), viewer, page, filters, pinned=pinned
    )
    return status_page(rt, call, listing, viewer)


async def account_favourites(rt: Runtime, call: Call) -> JsonResponse:
    """``GET /api/v1/pleroma/accounts/<id>/favourites`` (read-or-public,
    DECISIONS 17): newest favourite first, keyed by the favourites' ids."""
    viewer = _reader(call)
    page = page_params(call.params, STATUSES_MAX_LIMIT)
    listing = await timelines.favourites(rt, call.params.required_str("id"), viewer, page)
    return status_page(rt, call, listing, viewer)
