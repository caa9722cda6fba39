"""Search: accounts (`/api/v1/accounts/search`) and accounts, statuses and
hashtags together (`/api/v2/search`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pleromad.domain import profile, remote_actors, remote_statuses, statuses
from pleromad.model import User
from pleromad.openapi.spec import FLAG, STRING, Operation, Schema, answer, array, enum, note, ref
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import render_accounts, statuses_json
from pleromad.web.pagination import DEFAULT_LIMIT, offset_param

ACCOUNTS_LIMIT = 40
ACCOUNTS_MAX_LIMIT = 80
SEARCH_MAX_LIMIT = 40


RESOLVE = (
    "With a signed-in reader, a query that is a remote address (`nick@host`, `@nick@host`)"
    " or an actor URL is looked up by WebFinger or fetched, stored, and listed first."
)
RESOLVE_STATUS = (
    RESOLVE + "  A query that is the URL of a post (its id or its page) answers that post"
    " in `statuses`: ours, a stored one, or (resolving) fetched and stored; a URL that names"
    " no post the reader may see answers none."
)

SEARCH_FIELDS: dict[str, Schema] = {
    "q": note(STRING, "A nickname or name prefix; `@nick`, `nick@our-host` mean the local `nick`."),
    "limit": {"type": "integer", "description": "Default 40; at most 80, at least 1."},
    "offset": {"type": "integer", "description": "Accounts to skip; default 0."},
    "resolve": {**FLAG, "description": RESOLVE},
    "following": {
        **FLAG,
        "description": "Only accounts the reader follows (none for an anonymous reader).",
    },
}


class SearchApi:
    app = api_app()
    tag = "Search"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/accounts/search",
        "GET",
        auth=Auth.OPTIONAL,
        doc=Operation(
            "Find accounts by nickname or name prefix, an exact nickname first.",
            responses={200: answer(array(ref("Account")))},
            fields=SEARCH_FIELDS,
            required=("q",),
        ),
    )
    async def accounts(self, call: Call) -> Any:
        params = call.params
        query = params.required_str("q")
        limit = min(max(params.int("limit", ACCOUNTS_LIMIT) or 1, 1), ACCOUNTS_MAX_LIMIT)
        offset = offset_param(params)
        viewer = call.reader
        found = await profile.search_accounts(
            self.rt,
            query,
            viewer,
            limit=limit,
            offset=offset,
            following=params.bool("following", False),
            resolved=await self._resolved(query, viewer, params.bool("resolve", False)),
        )
        return await render_accounts(self.rt, found, viewer)

    @route(
        app,
        "/api/v2/search",
        "GET",
        auth=Auth.OPTIONAL,
        doc=Operation(
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
                "offset": {
                    "type": "integer",
                    "description": "Entries to skip per list; default 0.",
                },
                "resolve": {**FLAG, "description": RESOLVE_STATUS},
                "following": {
                    **FLAG,
                    "description": (
                        "Only accounts the reader follows (none for an anonymous reader)."
                    ),
                },
            },
            required=("q",),
        ),
    )
    async def search(self, call: Call) -> Any:
        """DECISIONS 25: accounts as `/api/v1/accounts/search` finds them (an
        exact nickname first), statuses the reader may see holding every word
        of the query, hashtags named in it.  ``type`` narrows the answer to one
        of the three lists.  A query that is the URL of a post answers that
        post alone (:func:`remote_statuses.find_by_url`): no account then."""
        params = call.params
        query = params.required_str("q")
        wanted = params.str("type")
        limit = min(max(params.int("limit", DEFAULT_LIMIT) or 0, 0), SEARCH_MAX_LIMIT)
        offset = offset_param(params)
        resolve = params.bool("resolve", False)
        following = params.bool("following", False)
        viewer = call.reader

        def asked(kind: str) -> bool:
            return limit > 0 and (wanted is None or wanted == kind)

        statuses_found: list[Any] = []
        named = None
        if asked("statuses") and query.strip().startswith(("https://", "http://")):
            # A URL names a post or an account, and no words to search for.
            named = await remote_statuses.find_by_url(
                self.rt, query.strip(), resolve=resolve and viewer is not None
            )
            if named is not None and offset == 0:
                loaded = await statuses.load(self.rt, [named], viewer)
                statuses_found = statuses_json(self.rt, loaded, viewer)
        elif asked("statuses"):
            loaded = await statuses.search(self.rt, query, viewer, limit=limit, offset=offset)
            statuses_found = statuses_json(self.rt, loaded, viewer)
        accounts: list[Any] = []
        if asked("accounts") and named is None:
            found = await profile.search_accounts(
                self.rt,
                query,
                viewer,
                limit=limit,
                offset=offset,
                following=following,
                resolved=await self._resolved(query, viewer, resolve),
            )
            accounts = [a for a in await render_accounts(self.rt, found, viewer) if a]
        hashtags = _hashtags(query, self.rt.config.server.base_url) if asked("hashtags") else []
        return {
            "accounts": accounts,
            "statuses": statuses_found,
            "hashtags": hashtags[offset : offset + limit],
        }

    async def _resolved(self, query: str, viewer: User | None, resolve: bool) -> User | None:
        """The account ``query`` names as an address: resolved for a
        signed-in reader who asks, else only a stored one."""
        return await remote_actors.find_account(
            self.rt, query, resolve=resolve and viewer is not None
        )


def _hashtags(query: str, base_url: str) -> list[dict[str, Any]]:
    """The ``#tags`` of the query, once each, as Tag entities."""
    names = dict.fromkeys(
        word[1:] for word in query.split() if word.startswith("#") and len(word) > 1
    )
    return [
        {"name": name, "url": f"{base_url}/tag/{quote(name, safe='')}", "history": []}
        for name in names
    ]
