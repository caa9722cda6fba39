"""Follow requests, the caller's blocks and mutes, following by address,
and search: `/api/v1/follow_requests`, `/api/v1/blocks`, `/api/v1/mutes`,
`/api/v1/follows`, `/api/v2/search`.

The account-scoped relationship routes (`/api/v1/accounts/:id/follow`, ...)
live with the accounts family in :mod:`pleromad.web.accounts`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from pleromad.domain import profile, relationships
from pleromad.domain import statuses as statuses_domain
from pleromad.model import Listed, User
from pleromad.runtime import Runtime
from pleromad.views.statuses import render_statuses
from pleromad.web.accounts import paginated_accounts, reader, relate, render_accounts
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.pagination import (
    ACCOUNTS_MAX_LIMIT,
    DEFAULT_LIMIT,
    Page,
    offset_param,
    page_params,
)

SEARCH_MAX_LIMIT = 40
SEARCH_TYPES = ("accounts", "statuses", "hashtags")
# relationships.follow_requests, .blocks or .mutes: (rt, caller, page) -> a page.
OwnListing = Callable[[Runtime, User, Page], Awaitable[list[Listed]]]


class RelationshipsApi:
    app = api_app()
    prefixes = (
        "/api/v1/follow_requests",
        "/api/v1/blocks",
        "/api/v1/mutes",
        "/api/v1/follows",
        "/api/v2/search",
    )

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/follow_requests", "GET", auth=Auth.REQUIRED, scope="read")
    async def follow_requests(self, call: Call) -> Any:
        """The accounts whose follow request waits for the caller's answer,
        newest request first."""
        return await self._own_list(call, relationships.follow_requests)

    # The reference guards both lists with `read`, as follow_requests.

    @route(app, "/api/v1/blocks", "GET", auth=Auth.REQUIRED, scope="read")
    async def blocks(self, call: Call) -> Any:
        """The accounts the caller blocks, newest block first."""
        return await self._own_list(call, relationships.blocks)

    @route(app, "/api/v1/mutes", "GET", auth=Auth.REQUIRED, scope="read")
    async def mutes(self, call: Call) -> Any:
        """The accounts the caller mutes, newest mute first."""
        return await self._own_list(call, relationships.mutes)

    async def _own_list(self, call: Call, listing: OwnListing) -> Any:
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        listed = await listing(self.rt, call.user, page)
        return await paginated_accounts(self.rt, call, listed, call.user)

    @route(
        app, "/api/v1/follow_requests/<id>/authorize", "POST", auth=Auth.REQUIRED, scope="follow"
    )
    async def authorize(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.authorize_request)

    @route(app, "/api/v1/follow_requests/<id>/reject", "POST", auth=Auth.REQUIRED, scope="follow")
    async def reject(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.reject_request)

    @route(app, "/api/v1/follows", "POST", auth=Auth.REQUIRED, scope="follow")
    async def follow_by_address(self, call: Call) -> Any:
        """Follow the account ``uri`` names (``nick``, ``@nick`` or
        ``nick@our-host``); the answer is that Account, as the reference's."""
        target = await relationships.follow_address(
            self.rt, call.user, call.params.required_str("uri")
        )
        return (await render_accounts(self.rt, [target], call.user))[0]

    @route(app, "/api/v2/search", "GET", auth=Auth.OPTIONAL)
    async def search(self, call: Call) -> Any:
        """DECISIONS 25: accounts as `/api/v1/accounts/search` finds them (an
        exact nickname first), statuses the reader may see holding every word
        of the query, hashtags named in it.  ``type`` narrows the answer to one
        of the three lists."""
        params = call.params
        query = params.required_str("q")
        wanted = params.str("type")
        limit = min(max(params.int("limit", DEFAULT_LIMIT) or 0, 0), SEARCH_MAX_LIMIT)
        offset = offset_param(params)
        # Without federation nothing remote can be resolved; `following`
        # keeps the reader's follows (as /api/v1/accounts/search).
        params.bool("resolve")
        following = params.bool("following", False)

        def asked(kind: str) -> bool:
            return limit > 0 and (wanted is None or wanted == kind)

        accounts: list[Any] = []
        if asked("accounts"):
            found = await profile.search_accounts(
                self.rt, query, reader(call), limit=limit, offset=offset, following=following
            )
            accounts = [a for a in await render_accounts(self.rt, found, reader(call)) if a]
        statuses: list[Any] = []
        if asked("statuses"):
            loaded = await statuses_domain.search(
                self.rt, query, reader(call), limit=limit, offset=offset
            )
            hidden = profile.hidden_accounts(loaded.users.values(), reader(call), self.rt.config)
            statuses = render_statuses(
                loaded, config=self.rt.config, viewer=reader(call), hidden=hidden
            )
        hashtags = _hashtags(query, self.rt.config.server.base_url) if asked("hashtags") else []
        return {
            "accounts": accounts,
            "statuses": statuses,
            "hashtags": hashtags[offset : offset + limit],
        }


def _hashtags(query: str, base_url: str) -> list[dict[str, Any]]:
    """The ``#tags`` of the query, once each, as Tag entities."""
    names = dict.fromkeys(
        word[1:] for word in query.split() if word.startswith("#") and len(word) > 1
    )
    return [
        {"name": name, "url": f"{base_url}/tag/{quote(name, safe='')}", "history": []}
        for name in names
    ]
