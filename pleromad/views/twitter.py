"""TwitterAPI entities: the user object `/api/account/register` answers with."""

from __future__ import annotations

import html
from typing import Any

from pleromad.model import User
from pleromad.views.dates import twitter_date
from pleromad.views.images import avatar_url, banner_url, image_url
from pleromad.views.text import html_to_text


def role(user: User) -> str:
    if user.is_admin:
        return "admin"
    if user.is_moderator:
        return "moderator"
    return "member"


def user_entity(
    user: User,
    base_url: str,
    *,
    followers_count: int = 0,
    friends_count: int = 0,
    statuses_count: int = 0,
    following: bool = False,
    follows_you: bool = False,
    blocking: bool = False,
) -> dict[str, Any]:
    """The TwitterAPI user object; counts and relationship flags are the
    caller's (all zero/false for a new account seen by nobody)."""
    avatar = avatar_url(user, base_url)
    entity: dict[str, Any] = {
        "id": str(user.id),
        "screen_name": user.nickname,
        "name": user.display_name,
        "name_html": html.escape(html_to_text(user.display_name), quote=False),
        "description": html_to_text(user.bio_html),
        "description_html": user.bio_html,
        "created_at": twitter_date(user.created_at),
        "favourites_count": 0,
        "followers_count": followers_count,
        "friends_count": friends_count,
        "statuses_count": statuses_count,
        "following": following,
        "follows_you": follows_you,
        "statusnet_blocking": blocking,
        "profile_image_url": avatar,
        "profile_image_url_https": avatar,
        "profile_image_url_profile_size": avatar,
        "profile_image_url_original": avatar,
        "cover_photo": banner_url(user, base_url),
        "background_image": image_url(user.background),
        "statusnet_profile_url": user.ap_id,
        "is_local": user.local,
        "locked": user.locked,
        "hide_followers": user.hide_followers,
        "hide_follows": user.hide_follows,
        "fields": [],
        "pleroma": {
            "confirmation_pending": user.confirmation_pending,
            "tags": list(user.tags),
            "skip_thread_containment": user.skip_thread_containment,
        },
        "rights": {"delete_others_notice": user.is_moderator, "admin": user.is_admin},
        "default_scope": user.default_scope,
        "no_rich_text": user.no_rich_text,
    }
    if user.show_role:
        entity["role"] = role(user)
    return entity
