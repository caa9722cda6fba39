"""Pages of statuses and of accounts, as every listing answers them: the
rendered entities in order, with the ``Link`` header of their keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pleromad.domain import profile, relationships
from pleromad.domain.timelines import Listing
from pleromad.model import Listed, Loaded, User
from pleromad.runtime import Runtime
from pleromad.views.accounts import render_account
from pleromad.views.relationships import relationship_entity
from pleromad.views.statuses import render_status, render_statuses
from pleromad.web.base import Call, JsonResponse
from pleromad.web.pagination import paginated


def statuses_json(
    rt: Runtime, loaded: Loaded, viewer: User | None, ids: Sequence[int] | None = None
) -> list[Any]:
    """The statuses of ``loaded`` (``ids`` of them) as ``viewer`` sees them;
    whose accounts the viewer may not see is the domain's to say."""
    hidden = profile.hidden_accounts(loaded.users.values(), viewer, rt.config)
    return render_statuses(
        loaded, config=rt.config, viewer=viewer, hidden=hidden, ids=ids, cache=rt.renders
    )


def status_json(rt: Runtime, loaded: Loaded, viewer: User | None) -> Any:
    """The one status ``loaded`` holds, as ``viewer`` sees it."""
    hidden = profile.hidden_accounts(loaded.users.values(), viewer, rt.config)
    return render_status(loaded, config=rt.config, viewer=viewer, hidden=hidden, cache=rt.renders)


def status_page(rt: Runtime, call: Call, listing: Listing, viewer: User | None) -> JsonResponse:
    """A page of statuses as ``viewer`` sees them, with its Link header
    (keyed by the listing's keys)."""
    loaded, keys = listing
    rendered = statuses_json(rt, loaded, viewer)
    return paginated(call, rendered, keys, base_url=rt.config.server.base_url)


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
                remote_document=facts.remote_documents.get(user.id),
            )
        )
    return rendered


async def account_page(
    rt: Runtime, call: Call, listed: Sequence[Listed], viewer: User | None
) -> JsonResponse:
    """A page of accounts keyed by their listing's cursors, with its Link
    header; accounts the viewer may not see are left out of the body only."""
    rendered = await render_accounts(rt, [entry.user for entry in listed], viewer)
    return paginated(
        call,
        [account for account in rendered if account],
        [entry.cursor for entry in listed],
        base_url=rt.config.server.base_url,
    )
