"""Mastodon accounts and the instance: `/api/v1/accounts/*`, `/api/v1/instance`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pleromad.domain import media, oauth, profile, registration, relationships
from pleromad.domain.rate_limits import headers
from pleromad.errors import BadRequest
from pleromad.model import Listed, Relationship, User
from pleromad.runtime import Runtime
from pleromad.store import users
from pleromad.views import oauth as oauth_views
from pleromad.views.accounts import render_account
from pleromad.views.instance import render_instance
from pleromad.views.relationships import relationship_entity
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, rate_limit_headers, route
from pleromad.web.client_ip import bucket_key
from pleromad.web.media import image_changes
from pleromad.web.pagination import (
    ACCOUNTS_MAX_LIMIT,
    Page,
    offset_param,
    page_params,
    paginated,
)
from pleromad.web.params import Params
from pleromad.web.timelines import account_statuses

SEARCH_LIMIT = 40
SEARCH_MAX_LIMIT = 80
# relationships.followers or .following: (rt, owner, viewer, page) -> a page.
FollowListing = Callable[[Runtime, User, User | None, Page], Awaitable[list[Listed]]]
# The pictures update_credentials takes: kind (users column) -> parameter.
PICTURES = {"avatar": "avatar", "banner": "header", "background": "pleroma_background_image"}


class AccountsApi:
    app = api_app()
    prefixes = (
        "/api/v1/accounts",
        "/api/v1/instance",
    )

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _account(self, user: User, viewer: User | None, *, for_self: bool = False) -> Any:
        return (await render_accounts(self.rt, [user], viewer, for_self=for_self))[0]

    @route(app, "/api/v1/accounts", "POST", auth=Auth.APP)
    async def register(self, call: Call) -> Any:
        """Mastodon's registration (DECISIONS 25): an app token creates an
        account and gets back a token for it, with the app's scopes."""
        assert call.viewer is not None and call.viewer.token is not None
        key = bucket_key(call.request, self.rt.config.proxy.trusted, None)
        allowance = await registration.admit(self.rt, key)
        with rate_limit_headers(allowance):
            user = await registration.register_with_app(
                self.rt, call.params, key, allowance=allowance
            )
        issued = await oauth.issue_token(self.rt, call.viewer.token.app_id, user)
        return JsonResponse(
            oauth_views.token(issued, user, oauth.TOKEN_LIFETIME), 200, headers(allowance)
        )

    # Fixed paths before /accounts/<id>, as the reference routes them.

    @route(app, "/api/v1/accounts/verify_credentials", "GET", auth=Auth.REQUIRED, scope="read")
    async def verify_credentials(self, call: Call) -> Any:
        return await self._account(call.user, call.user, for_self=True)

    @route(app, "/api/v1/accounts/update_credentials", "PATCH", auth=Auth.REQUIRED, scope="write")
    async def update_credentials(self, call: Call) -> Any:
        # Mastodon's fields_attributes and bot are ignored, as the reference did.
        params = call.params
        # Pictures are checked before anything changes, and stored after the
        # profile edit passed its checks: a refusal of either stores nothing.
        pictures = await media.check_profile_images(self.rt, await image_changes(params, PICTURES))
        edit = profile.ProfileEdit(
            display_name=params.str("display_name"),
            note=params.str("note"),
            default_scope=_default_scope(params),
            flags={
                name: value for name in profile.FLAGS if (value := params.bool(name)) is not None
            },
            settings_store=_object(params, "pleroma_settings_store"),
        )
        user = await profile.edit_profile(self.rt, call.user, edit)
        user = await media.apply_profile_images(self.rt, user, pictures)
        return await self._account(user, user, for_self=True)

    @route(app, "/api/v1/accounts/search", "GET", auth=Auth.OPTIONAL)
    async def search(self, call: Call) -> Any:
        params = call.params
        query = params.required_str("q")
        limit = min(max(params.int("limit", SEARCH_LIMIT) or 1, 1), SEARCH_MAX_LIMIT)
        offset = offset_param(params)
        # Without federation there is nothing to resolve: `resolve` is only
        # checked as a boolean.  `following` keeps the reader's follows.
        params.bool("resolve")
        viewer = reader(call)
        found = await profile.search_accounts(
            self.rt,
            query,
            viewer,
            limit=limit,
            offset=offset,
            following=params.bool("following", False),
        )
        return await render_accounts(self.rt, found, viewer)

    @route(app, "/api/v1/accounts/lookup", "GET", auth=Auth.READ_OR_PUBLIC)
    async def lookup(self, call: Call) -> Any:
        """Mastodon's lookup by ``acct`` (a nickname, never an id), rendered
        as /api/v1/accounts/:id renders the account."""
        viewer = reader(call)
        user = await profile.lookup_account(self.rt, call.params.required_str("acct"), viewer)
        return await self._account(user, viewer)

    @route(app, "/api/v1/accounts/relationships", "GET", auth=Auth.REQUIRED, scope="read")
    async def relationships_to(self, call: Call) -> Any:
        """DECISIONS 29: ``id`` or ``id[]``, one or many, answered in the
        order asked; ids of no visible account are left out."""
        found = await relationships.relationships(self.rt, call.user, call.params.list("id"))
        return [relationship_entity(r) for r in found]

    @route(app, "/api/v1/accounts/<id>", "GET", auth=Auth.READ_OR_PUBLIC)
    async def account(self, call: Call) -> Any:
        viewer = reader(call)
        user = await profile.find_account(self.rt, call.params.required_str("id"), viewer)
        return await self._account(user, viewer)

    # -- follows, blocks, mutes ------------------------------------------------

    @route(app, "/api/v1/accounts/<id>/follow", "POST", auth=Auth.REQUIRED, scope="follow")
    async def follow(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.follow, call.params.bool("reblogs"))

    @route(app, "/api/v1/accounts/<id>/unfollow", "POST", auth=Auth.REQUIRED, scope="follow")
    async def unfollow(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.unfollow)

    @route(app, "/api/v1/accounts/<id>/block", "POST", auth=Auth.REQUIRED, scope="follow")
    async def block(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.block)

    @route(app, "/api/v1/accounts/<id>/unblock", "POST", auth=Auth.REQUIRED, scope="follow")
    async def unblock(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.unblock)

    @route(app, "/api/v1/accounts/<id>/mute", "POST", auth=Auth.REQUIRED, scope="follow")
    async def mute(self, call: Call) -> Any:
        notifications = call.params.bool("notifications", True)
        return await relate(self.rt, call, relationships.mute, notifications)

    @route(app, "/api/v1/accounts/<id>/unmute", "POST", auth=Auth.REQUIRED, scope="follow")
    async def unmute(self, call: Call) -> Any:
        return await relate(self.rt, call, relationships.unmute)

    @route(app, "/api/v1/accounts/<id>/followers", "GET", auth=Auth.READ_OR_PUBLIC)
    async def followers(self, call: Call) -> Any:
        return await self._follow_list(call, relationships.followers)

    @route(app, "/api/v1/accounts/<id>/following", "GET", auth=Auth.READ_OR_PUBLIC)
    async def following(self, call: Call) -> Any:
        return await self._follow_list(call, relationships.following)

    async def _follow_list(self, call: Call, listing: FollowListing) -> Any:
        viewer = reader(call)
        page = page_params(call.params, ACCOUNTS_MAX_LIMIT)
        owner = await relationships.find_target(self.rt, viewer, call.params.required_str("id"))
        listed = await listing(self.rt, owner, viewer, page)
        return await paginated_accounts(self.rt, call, listed, viewer)

    @route(app, "/api/v1/instance", "GET")
    async def instance(self, call: Call) -> Any:
        user_count = await self.rt.db.run_interaction(
            "instance user count", users.count_active_local_users_txn
        )
        return render_instance(self.rt.config, user_count=user_count)

    @route(app, "/api/v1/instance/peers", "GET")
    async def peers(self, call: Call) -> Any:
        return []  # no federation: no other domain is known

    @route(app, "/api/v1/accounts/<id>/statuses", "GET", auth=Auth.READ_OR_PUBLIC)
    async def statuses(self, call: Call) -> Any:
        return await account_statuses(self.rt, call)


async def relate(
    rt: Runtime, call: Call, change: Callable[..., Awaitable[Relationship]], *args: Any
) -> Any:
    """Make ``change`` (a :mod:`pleromad.domain.relationships` action) from
    the caller to the account in the path; answer the Relationship."""
    return relationship_entity(await change(rt, call.user, call.params.required_str("id"), *args))


async def render_accounts(
    rt: Runtime, accounts: Sequence[User], viewer: User | None, *, for_self: bool = False
) -> list[Any]:
    """Account entities of ``accounts`` as ``viewer`` sees them, in order,
    with their counts and the viewer's relationship (``{}`` for an account
    the viewer may not see)."""
    facts = await relationships.account_facts(rt, accounts, viewer)
    hidden = profile.hidden_accounts(accounts, viewer, rt.config)
    rendered = []
    for user in accounts:
        of_user = facts.counts.get(user.id)
        relationship = facts.relationships.get(user.id)
        rendered.append(
            render_account(
                user,
                config=rt.config,
                hidden=user.id in hidden,
                viewer_user=viewer,
                for_self=for_self,
                followers_count=of_user.followers if of_user else 0,
                following_count=of_user.following if of_user else 0,
                statuses_count=facts.statuses.get(user.id, 0),
                relationship=relationship_entity(relationship) if relationship else None,
            )
        )
    return rendered


async def paginated_accounts(
    rt: Runtime, call: Call, listed: Sequence[Listed], viewer: User | None
) -> JsonResponse:
    """A page of accounts keyed by their follow ids, with its Link header;
    accounts the viewer may not see are left out of the body only."""
    rendered = await render_accounts(rt, [entry.user for entry in listed], viewer)
    return paginated(
        call,
        [account for account in rendered if account],
        [entry.cursor for entry in listed],
        base_url=rt.config.server.base_url,
    )


def reader(call: Call) -> User | None:
    """The viewer, if it may read (a token without ``read`` sees what anyone sees)."""
    viewer = call.viewer
    if viewer is None or viewer.user is None or not viewer.allows("read"):
        return None
    return viewer.user


def _default_scope(params: Params) -> str | None:
    """``default_scope``, or Mastodon's ``source[privacy]`` that modern clients send."""
    scope = params.str("default_scope")
    if scope is None:
        source = params.get("source")
        if isinstance(source, dict) and isinstance(source.get("privacy"), str):
            scope = source["privacy"]
    return scope


def _object(params: Params, name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None or isinstance(value, dict):
        return value
    raise BadRequest(f"Invalid value for {name}: expected an object")
