"""The Mastodon Account and Relationship entities, with Pleroma's extensions."""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.model import User
from pleromad.views.dates import masto_date
from pleromad.views.images import avatar_url, banner_url, image_url
from pleromad.views.text import strip_tags

# Each means "notify me of activity from these accounts" (DECISIONS 20).
NOTIFICATION_SETTINGS = ("followers", "follows", "non_followers", "non_follows", "remote", "local")


def render_account(
    user: User,
    *,
    config: Config,
    hidden: bool,
    viewer_user: User | None = None,
    for_self: bool = False,
    followers_count: int = 0,
    following_count: int = 0,
    statuses_count: int = 0,
    relationship: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``user`` as ``viewer_user`` (None: anonymous) sees it; ``{}`` when
    ``hidden`` (the domain's verdict: they may not see it at all).

    The owner sees its own settings (``source.privacy``, the role switches,
    ``notification_settings``); ``for_self`` is the answer to the owner's
    credential endpoints and adds ``settings_store``.  ``relationship`` is
    the viewer's Relationship to the account (``{}`` when there is none).
    """
    is_self = for_self or (viewer_user is not None and viewer_user.id == user.id)
    if hidden:
        return {}
    base_url = config.server.base_url
    avatar = avatar_url(user, base_url)
    header = banner_url(user, base_url)
    source: dict[str, Any] = {"note": user.bio, "sensitive": False, "pleroma": {}}
    pleroma: dict[str, Any] = {
        "confirmation_pending": user.confirmation_pending,
        "tags": list(user.tags),
        "hide_followers": user.hide_followers,
        "hide_follows": user.hide_follows,
        "hide_favorites": user.hide_favorites,
        "relationship": relationship or {},
        "skip_thread_containment": user.skip_thread_containment,
        "background_image": image_url(user.background),
    }
    if user.show_role or is_self:
        pleroma["is_admin"] = user.is_admin
        pleroma["is_moderator"] = user.is_moderator
    if is_self:
        source["privacy"] = user.default_scope
        source["pleroma"] = {"show_role": user.show_role, "no_rich_text": user.no_rich_text}
        pleroma["notification_settings"] = render_notification_settings(user)
    if for_self:
        pleroma["settings_store"] = user.settings_store
    if viewer_user is not None and viewer_user.is_admin:
        pleroma["deactivated"] = user.deactivated
    return {
        "id": str(user.id),
        "username": user.nickname.split("@", 1)[0],
        "acct": user.nickname,
        "display_name": strip_tags(user.display_name),
        "locked": user.locked,
        "bot": False,
        "created_at": masto_date(user.created_at),
        "followers_count": followers_count,
        "following_count": following_count,
        "statuses_count": statuses_count,
        "note": user.bio_html,
        "url": user.ap_id,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "emojis": [],
        "fields": [],
        "source": source,
        "pleroma": pleroma,
    }


def render_notification_settings(user: User) -> dict[str, bool]:
    """Every key, true unless the user turned it off."""
    stored = user.notification_settings
    return {key: bool(stored.get(key, True)) for key in NOTIFICATION_SETTINGS}


def render_relationship(
    target_id: int,
    *,
    following: bool = False,
    followed_by: bool = False,
    blocking: bool = False,
    blocked_by: bool = False,
    muting: bool = False,
    muting_notifications: bool = False,
    subscribing: bool = False,
    requested: bool = False,
    domain_blocking: bool = False,
    showing_reblogs: bool = True,
    endorsed: bool = False,
) -> dict[str, Any]:
    """The viewer's Relationship to the account ``target_id``.

    ``showing_reblogs`` is true unless the viewer hid the target's reblogs.
    """
    return {
        "id": str(target_id),
        "following": following,
        "followed_by": followed_by,
        "blocking": blocking,
        "blocked_by": blocked_by,
        "muting": muting,
        "muting_notifications": muting_notifications,
        "subscribing": subscribing,
        "requested": requested,
        "domain_blocking": domain_blocking,
        "showing_reblogs": showing_reblogs,
        "endorsed": endorsed,
    }
