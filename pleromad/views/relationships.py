"""The Relationship entity (Mastodon's, with Pleroma's ``subscribing``)."""

from __future__ import annotations

from typing import Any

from pleromad.model import Relationship
from pleromad.views.accounts import render_relationship


def relationship_entity(relationship: Relationship) -> dict[str, Any]:
    """The viewer's Relationship to ``relationship.target_id``; ``requested``
    is a pending follow request (DECISIONS 22)."""
    return render_relationship(
        relationship.target_id,
        following=relationship.following,
        followed_by=relationship.followed_by,
        blocking=relationship.blocking,
        blocked_by=relationship.blocked_by,
        muting=relationship.muting,
        muting_notifications=relationship.muting_notifications,
        subscribing=relationship.subscribing,
        requested=relationship.requested,
        showing_reblogs=relationship.showing_reblogs,
    )
