"""The Mastodon Account and Relationship entities, with Pleroma's extensions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pleromad.config import Config
from pleromad.model import User
from pleromad.views.dates import masto_date
from pleromad.views.images import avatar_url, banner_url, image_url
from pleromad.views.text import strip_tags

# Each means "notify me of activity from these accounts" (DECISIONS 20).
NOTIFICATION_SETTINGS = ("followers", "follows", "non_followers", "non_follows", "remote", "local")

_TAG = re.compile(r"<[^>]*>")

# Actor types Mastodon shows as bots.
_BOT_TYPES = frozenset({"Service", "Application"})
# Profile fields and custom emoji read off a remote actor, at most.
_FIELDS_MAX = 16
_EMOJIS_MAX = 64
_SHORTCODE = re.compile(r"^:?([A-Za-z0-9_+-]+):?$")


def _http_url(value: Any) -> str | None:
    """An http(s) address among the shapes ActivityStreams allows (a
    string, a Link, a list of either): the first one."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        value = value.get("href") or value.get("url")
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def remote_profile(document: Mapping[str, Any]) -> dict[str, Any]:
    """What a remote account's actor document adds to its Account entity:
    its profile page (``url``), ``bot`` (a Service or Application), the
    ``fields`` (``PropertyValue`` attachments, cleaned when the document
    arrived: see :func:`pleromad.domain.remote_actors.clean_document`) and the
    ``emojis`` its name and bio use (``Emoji`` tags)."""
    extras: dict[str, Any] = {"bot": document.get("type") in _BOT_TYPES}
    url = _http_url(document.get("url"))
    if url is not None:
        extras["url"] = url
    attachments = document.get("attachment")
    fields = []
    for item in attachments if isinstance(attachments, list) else []:
        if not isinstance(item, Mapping) or item.get("type") != "PropertyValue":
            continue
        name, value = item.get("name"), item.get("value")
        if isinstance(name, str) and isinstance(value, str):
            fields.append({"name": name, "value": value})
    extras["fields"] = fields[:_FIELDS_MAX]
    tags = document.get("tag")
    emojis = []
    for tag in tags if isinstance(tags, list) else []:
        if not isinstance(tag, Mapping) or tag.get("type") != "Emoji":
            continue
        name = tag.get("name")
        shortcode = _SHORTCODE.match(name) if isinstance(name, str) else None
        image = _http_url(tag.get("icon"))
        if shortcode and image:
            emojis.append(
                {
                    "shortcode": shortcode.group(1),
                    "url": image,
                    "static_url": image,
                    "visible_in_picker": False,
                }
            )
    extras["emojis"] = emojis[:_EMOJIS_MAX]
    return extras


def public_account(
    user: User, *, config: Config, remote_document: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What anyone may see of ``user``, whoever looks: the part of its
    Account entity that :func:`render_account` reuses (counts 0, no
    relationship).  ``remote_document``: a remote account's actor document,
    for what only it says (:func:`remote_profile`)."""
    base_url = config.server.base_url
    avatar = avatar_url(user, base_url)
    header = banner_url(user, base_url)
    pleroma: dict[str, Any] = {
        "confirmation_pending": user.confirmation_pending,
        "tags": list(user.tags),
        "hide_followers": user.hide_followers,
        "hide_follows": user.hide_follows,
        "hide_favorites": user.hide_favorites,
        "relationship": {},
        "skip_thread_containment": user.skip_thread_containment,
        "background_image": image_url(user.background),
    }
    if user.show_role:
        pleroma["is_admin"] = user.is_admin
        pleroma["is_moderator"] = user.is_moderator
    account = {
        "id": str(user.id),
        "username": user.nickname.split("@", 1)[0],
        "acct": user.nickname,
        "display_name": strip_tags(user.display_name),
        "locked": user.locked,
        "bot": False,
        "created_at": masto_date(user.created_at),
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "note": user.bio_html,
        "url": user.ap_id,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "emojis": [],
        "fields": [],
        "source": {"note": user.bio, "sensitive": False, "pleroma": {}},
        "pleroma": pleroma,
    }
    if remote_document is not None and not user.local:
        account.update(remote_profile(remote_document))
    return account


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
    remote_document: Mapping[str, Any] | None = None,
    public: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``user`` as ``viewer_user`` (None: anonymous) sees it; ``{}`` when
    ``hidden`` (the domain's verdict: they may not see it at all).

    The owner sees its own settings (``source.privacy``, the role switches,
    ``notification_settings``); ``for_self`` is the answer to the owner's
    credential endpoints and adds ``settings_store``.  ``relationship`` is
    the viewer's Relationship to the account (``{}`` when there is none).
    ``public`` is :func:`public_account` of ``user`` already rendered (and
    left unchanged); without it, it is rendered from ``remote_document``.
    """
    if hidden:
        return {}
    is_self = for_self or (viewer_user is not None and viewer_user.id == user.id)
    if public is None:
        public = public_account(user, config=config, remote_document=remote_document)
    pleroma = {**public["pleroma"], "relationship": relationship or {}}
    account = {
        **public,
        "followers_count": followers_count,
        "following_count": following_count,
        "statuses_count": statuses_count,
        "pleroma": pleroma,
    }
    if is_self:
        pleroma["is_admin"] = user.is_admin
        pleroma["is_moderator"] = user.is_moderator
        account["source"] = {
            **public["source"],
            "privacy": user.default_scope,
            "pleroma": {"show_role": user.show_role, "no_rich_text": user.no_rich_text},
        }
        pleroma["notification_settings"] = render_notification_settings(user)
    if for_self:
        pleroma["settings_store"] = user.settings_store
    if viewer_user is not None and viewer_user.is_admin:
        pleroma["deactivated"] = user.deactivated
    return account


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
