"""Relationships: following (by id or by address), follow requests, blocks,
mutes and subscriptions (DECISIONS 16), an account's followers and
follows, and the caller's relationships to accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pleromad.domain import relationships
from pleromad.model import Listed, Relationship, User
from pleromad.openapi.entities import NO_ACCOUNT
from pleromad.openapi.spec import (
    FLAG,
    ID,
    PAGINATED,
    STRING,
    Operation,
    answer,
    array,
    note,
    page_fields,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.relationships import relationship_entity
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import account_page, render_accounts
from pleromad.web.pagination import ACCOUNTS_MAX_LIMIT, Page, page_params

# relationships.followers or .following: (rt, owner, viewer, page) -> a page.
FollowListing = Callable[[Runtime, User, User | None, Page], Awaitable[list[Listed]]]
# relationships.follow_requests, .blocks or .mutes: (rt, caller, page) -> a page.
OwnListing = Callable[[Runtime, User, Page], Awaitable[list[Listed]]]


NO_TARGET = "No such account the caller may see, or the caller's own account."


def _relationship_change(summary: str, refused: str | None) -> Operation:
    errors = {404: "No account with that id the caller may see, or the caller themself."}
    if refused:
        errors[403] = f"Invalid credentials, a token without `follow`, or {refused}."
    return Operation(
        summary,
        responses={200: answer(ref("Relationship"), "The relationship it leaves.")},
        path={"id": {"type": "string", "description": "An account id or nickname."}},
        errors=errors,
    )


NO_REQUEST = (
    "No account the caller may see by this id or nickname has a follow request"
    " waiting for the caller."
)


class RelationshipsApi:
    app = api_app()
    tag = "Relationships"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _relate(
        self, call: Call, change: Callable[..., Awaitable[Relationship]], *args: Any
    ) -> Any:
        """Make ``change`` (a :mod:`pleromad.domain.relationships` action)
        from the caller to the account in the path; answer the Relationship."""
        changed = await change(self.rt, call.user, call.params.required_str("id"), *args)
        return relationship_entity(changed)

    @route(
        app,
        "/api/v1/accounts/relationships",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The caller's relationships to some accounts.",
            description=(
                "`id` or `id[]`, one or many (DECISIONS 29); answered in the order"
                " asked, once each; ids of no account the caller may see are left out."
            ),
            responses={200: answer(array(ref("Relationship")))},
            fields={"id": array(ID)},
        ),
    )
    async def relationships_to(self, call: Call) -> Any:
        """DECISIONS 29: ``id`` or ``id[]``, one or many, answered in the
        order asked; ids of no visible account are left out."""
        found = await relationships.relationships(self.rt, call.user, call.params.list("id"))
        return [relationship_entity(r) for r in found]

    # -- follows, blocks, mutes, subscriptions -----------------------------------

    @route(
        app,
        "/api/v1/accounts/<id>/follow",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Follow an account (a request, when it is locked).",
            responses={200: answer(ref("Relationship"))},
            fields={
                "reblogs": note(
                    FLAG,
                    "Whether its reblogs show in the home timeline; default: unchanged"
                    " (true for a new follow).",
                )
            },
            errors={
                403: (
                    "Invalid credentials or scope; or the follow is refused: the target"
                    " is deactivated, blocks the caller or is blocked by the caller."
                ),
                404: NO_TARGET,
            },
        ),
    )
    async def follow(self, call: Call) -> Any:
        return await self._relate(call, relationships.follow, call.params.bool("reblogs"))

    @route(
        app,
        "/api/v1/accounts/<id>/unfollow",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Stop following an account, or withdraw the request.",
            responses={200: answer(ref("Relationship"))},
            errors={404: NO_TARGET},
        ),
    )
    async def unfollow(self, call: Call) -> Any:
        return await self._relate(call, relationships.unfollow)

    @route(
        app,
        "/api/v1/accounts/<id>/block",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Block an account.",
            responses={200: answer(ref("Relationship"))},
            errors={404: NO_TARGET},
        ),
    )
    async def block(self, call: Call) -> Any:
        return await self._relate(call, relationships.block)

    @route(
        app,
        "/api/v1/accounts/<id>/unblock",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Unblock an account.",
            responses={200: answer(ref("Relationship"))},
            errors={404: NO_TARGET},
        ),
    )
    async def unblock(self, call: Call) -> Any:
        return await self._relate(call, relationships.unblock)

    @route(
        app,
        "/api/v1/accounts/<id>/mute",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Mute an account.",
            responses={200: answer(ref("Relationship"))},
            fields={"notifications": note(FLAG, "Mute its notifications too; default true.")},
            errors={404: NO_TARGET},
        ),
    )
    async def mute(self, call: Call) -> Any:
        notifications = call.params.bool("notifications", True)
        return await self._relate(call, relationships.mute, notifications)

    @route(
        app,
        "/api/v1/accounts/<id>/unmute",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Unmute an account.",
            responses={200: answer(ref("Relationship"))},
            errors={404: NO_TARGET},
        ),
    )
    async def unmute(self, call: Call) -> Any:
        return await self._relate(call, relationships.unmute)

    @route(
        app,
        "/api/v1/pleroma/accounts/<id>/subscribe",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=_relationship_change(
            "Be notified of the account's new statuses.", "either account blocks the other"
        ),
    )
    async def subscribe(self, call: Call) -> Any:
        return await self._relate(call, relationships.subscribe)

    @route(
        app,
        "/api/v1/pleroma/accounts/<id>/unsubscribe",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=_relationship_change("Stop being notified of the account's new statuses.", None),
    )
    async def unsubscribe(self, call: Call) -> Any:
        return await self._relate(call, relationships.unsubscribe)

    @route(
        app,
        "/api/v1/follows",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
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
    )
    async def follow_by_address(self, call: Call) -> Any:
        """Follow the account ``uri`` names (``nick``, ``@nick`` or
        ``nick@our-host``); the answer is that Account, as the reference's."""
        target = await relationships.follow_address(
            self.rt, call.user, call.params.required_str("uri")
        )
        return (await render_accounts(self.rt, [target], call.user))[0]

    # -- an account's followers and follows ----------------------------------------

    @route(
        app,
        "/api/v1/accounts/<id>/followers",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "The accounts following an account, newest follow first.",
            description="Empty for others than the owner when it hides its followers.",
            responses={200: answer(array(ref("Account")), **PAGINATED)},
            fields=page_fields(80),
            errors={404: NO_ACCOUNT},
        ),
    )
    async def followers(self, call: Call) -> Any:
        return await self._follow_list(call, relationships.followers)

    @route(
        app,
        "/api/v1/accounts/<id>/following",
        "GET",
        auth=Auth.READ_OR_PUBLIC,
        doc=Operation(
            "The accounts an account follows, newest follow first.",
            description="Empty for others than the owner when it hides its follows.",
            responses={200: answer(array(ref("Account")), **PAGINATED)},
            fields=page_fields(80),
            errors={404: NO_ACCOUNT},
        ),
    )
    async def following(self, call: Call) -> Any:
        return await self._follow_list(call, relationships.following)

    async def _follow_list(self, call: Call, listing: FollowListing) -> Any:
        viewer = call.reader
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        owner = await relationships.find_target(self.rt, viewer, call.params.required_str("id"))
        listed = await listing(self.rt, owner, viewer, page)
        return await account_page(self.rt, call, listed, viewer)

    # -- the caller's follow requests, blocks and mutes ----------------------------

    @route(
        app,
        "/api/v1/follow_requests",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The accounts waiting for the caller to answer their follow request.",
            description="Newest request first.",
            responses={200: answer(array(ref("Account")), **PAGINATED)},
            fields=page_fields(80),
        ),
    )
    async def follow_requests(self, call: Call) -> Any:
        """The accounts whose follow request waits for the caller's answer,
        newest request first."""
        return await self._own_list(call, relationships.follow_requests)

    @route(
        app,
        "/api/v1/follow_requests/<id>/authorize",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Accept an account's follow request.",
            responses={
                200: answer(ref("Relationship"), "The caller's relationship to the requester.")
            },
            errors={404: NO_REQUEST},
        ),
    )
    async def authorize(self, call: Call) -> Any:
        return await self._relate(call, relationships.authorize_request)

    @route(
        app,
        "/api/v1/follow_requests/<id>/reject",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Refuse an account's follow request.",
            responses={
                200: answer(ref("Relationship"), "The caller's relationship to the requester.")
            },
            errors={404: NO_REQUEST},
        ),
    )
    async def reject(self, call: Call) -> Any:
        return await self._relate(call, relationships.reject_request)

    # The reference guards both lists with `read`, as follow_requests.

    @route(
        app,
        "/api/v1/blocks",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The accounts the caller blocks.",
            description="Newest block first; deactivated accounts are left out.",
            responses={200: answer(array(ref("Account")), **PAGINATED)},
            fields=page_fields(80),
        ),
    )
    async def blocks(self, call: Call) -> Any:
        """The accounts the caller blocks, newest block first."""
        return await self._own_list(call, relationships.blocks)

    @route(
        app,
        "/api/v1/mutes",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The accounts the caller mutes.",
            description="Newest mute first; deactivated accounts are left out.",
            responses={200: answer(array(ref("Account")), **PAGINATED)},
            fields=page_fields(80),
        ),
    )
    async def mutes(self, call: Call) -> Any:
        """The accounts the caller mutes, newest mute first."""
        return await self._own_list(call, relationships.mutes)

    async def _own_list(self, call: Call, listing: OwnListing) -> Any:
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        listed = await listing(self.rt, call.user, page)
        return await account_page(self.rt, call, listed, call.user)
