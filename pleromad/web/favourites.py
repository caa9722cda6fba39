"""Favourites (DECISIONS 7, 17): favouriting a status, who favourited it,
the reader's favourites and an account's."""

from __future__ import annotations

from typing import Any

from pleromad.domain import statuses, timelines
from pleromad.openapi.entities import ACCOUNTS_PAGE, HIDDEN_STATUS
from pleromad.openapi.spec import PAGINATED, Operation, answer, array, page_fields, ref
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import account_page, status_json, status_page
from pleromad.web.pagination import ACCOUNTS_MAX_LIMIT, STATUSES_MAX_LIMIT, page_params


class FavouritesApi:
    app = api_app()
    tag = "Favourites"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/statuses/<id>/favourite",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Favourite a status.",
            responses={200: answer(ref("Status"), "The status (the original of a reblog).")},
            description="Idempotent: favouriting again changes nothing; the author is notified once.",
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def favourite(self, call: Call) -> Any:
        loaded = await statuses.favourite(self.rt, call.params.required_str("id"), call.user)
        return status_json(self.rt, loaded, call.user)

    @route(
        app,
        "/api/v1/statuses/<id>/unfavourite",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Undo a favourite.",
            responses={200: answer(ref("Status"), "The status (the original of a reblog).")},
            description="Idempotent: a status not favourited is answered as it is.",
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def unfavourite(self, call: Call) -> Any:
        loaded = await statuses.unfavourite(self.rt, call.params.required_str("id"), call.user)
        return status_json(self.rt, loaded, call.user)

    @route(
        app,
        "/api/v1/statuses/<id>/favourited_by",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "Who favourited a status.",
            responses={200: ACCOUNTS_PAGE},
            fields=page_fields(80),
            errors={404: HIDDEN_STATUS},
        ),
    )
    async def favourited_by(self, call: Call) -> Any:
        viewer = call.reader
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        listed = await statuses.favourited_by(self.rt, call.params.required_str("id"), viewer, page)
        return await account_page(self.rt, call, listed, viewer)

    @route(
        app,
        "/api/v1/favourites",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
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
    )
    async def favourites(self, call: Call) -> Any:
        """The reader's favourites, newest favourite first, paginated by the
        favourite's id."""
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        listing = await statuses.favourites(self.rt, call.user, page)
        return status_page(self.rt, call, listing, call.user)

    @route(
        app,
        "/api/v1/pleroma/accounts/<id>/favourites",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "The statuses an account favourited, newest favourite first.",
            responses={200: answer(array(ref("Status")), **PAGINATED)},
            fields=page_fields(40),
            path={"id": {"type": "string", "description": "An account id."}},
            errors={
                403: "The account hides its favourites from the reader (`Can't get favorites`).",
                404: "No account with that id the reader may see.",
            },
            description="Paged by the favourites' ids; only statuses the reader may see.",
        ),
    )
    async def account_favourites(self, call: Call) -> Any:
        """An account's favourites the reader may see (DECISIONS 17), newest
        favourite first, keyed by the favourites' ids."""
        viewer = call.reader
        page = page_params(call.params, STATUSES_MAX_LIMIT)
        listing = await timelines.favourites(self.rt, call.params.required_str("id"), viewer, page)
        return status_page(self.rt, call, listing, viewer)
