"""Accounts as others see them, finding them, and editing one's own profile.

Visibility follows the reference's ``User.visible_for?``: an account that
still awaits confirmation where confirmation is required is seen only by
itself and by staff; a deleted account by nobody.  Deactivated accounts stay
visible (their posts and follows are hidden elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import content
from pleromad.domain.formatting import text_to_html
from pleromad.errors import ApiError, NotFound
from pleromad.ids import parse_id
from pleromad.model import User
from pleromad.store import users
from pleromad.store.relationships import get_users_by_nicknames_txn

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

SCOPES = ("public", "unlisted", "private", "direct")

# The profile switches update_credentials takes, each a users column.
FLAGS = (
    "locked", "hide_favorites", "hide_followers", "hide_follows", "no_rich_text",
    "show_role", "skip_thread_containment",
)  # fmt: skip

# pleroma_settings_store is the front end's scratch space; bounded so that a
# client cannot grow one row without limit by merging new keys forever.
SETTINGS_STORE_LIMIT = 1_000_000

NOT_FOUND = "Can't find user"


class InvalidProfile(ApiError):
    """A profile field with a value the instance does not accept."""

    status = 422


def visible_to(user: User, viewer: User | None, config: Config) -> bool:
    """Whether ``viewer`` (None: anonymous) may see ``user`` at all."""
    if user.deleted:
        return False
    if user.confirmation_pending and config.instance.account_activation_required:
        return viewer is not None and (
            viewer.id == user.id or viewer.is_admin or viewer.is_moderator
        )
    return True


def hidden_accounts(users: Iterable[User], viewer: User | None, config: Config) -> frozenset[int]:
    """The ids among ``users`` that ``viewer`` may not see, which the views
    render as ``{}``; an account is never hidden from itself."""
    return frozenset(
        user.id
        for user in users
        if (viewer is None or viewer.id != user.id) and not visible_to(user, viewer, config)
    )


def local_nickname(text: str, base_url: str) -> str:
    """``@nick``, ``nick@our-host`` and ``nick`` all mean the local ``nick``;
    any other ``nick@host`` is left as it is (a remote account's nickname)."""
    text = text.strip().removeprefix("@")
    nick, at, host = text.rpartition("@")
    if at and nick:
        ours = urlsplit(base_url)
        if host.lower() in {(ours.hostname or "").lower(), ours.netloc.lower()}:
            return nick
    return text


async def mention_targets_txn(
    txn: Txn, config: Config, author: User | None, text: str
) -> dict[str, content.MentionTarget]:
    """The accounts the ``@names`` of ``text`` name, by lower-cased name:
    ``nick`` and ``nick@our-host`` are local accounts; accounts the author
    may not see are no one."""
    names = {
        candidate: local_nickname(candidate, config.server.base_url)
        for candidate in content.mention_candidates(text)
    }
    found = await get_users_by_nicknames_txn(txn, sorted(set(names.values())))
    by_nickname = {
        user.nickname.lower(): user for user in found if visible_to(user, author, config)
    }
    return {
        candidate: content.MentionTarget(user.id, user.nickname, user.ap_id)
        for candidate, nickname in names.items()
        if (user := by_nickname.get(nickname.lower())) is not None
    }


async def bio_html_txn(txn: Txn, config: Config, bio: str, author: User | None) -> str:
    """A bio as HTML: escaped, line breaks and URLs kept, and its ``@nick``
    mentions and hashtags linked the way a status links them."""
    targets = await mention_targets_txn(txn, config, author, bio)
    return content.link_content(
        text_to_html(bio), base_url=config.server.base_url, mentions=targets
    ).html


async def find_account(rt: Runtime, ref: str, viewer: User | None) -> User:
    """The account ``ref`` names, by decimal id or nickname, if ``viewer``
    may see it; NotFound otherwise."""
    user = None
    # An all-digit nickname is possible, so an id that matches nobody falls
    # back to the nickname.
    user_id = parse_id(ref) if ref == ref.strip() else None
    if user_id is not None:
        user = await rt.db.run_interaction("account by id", users.get_user_txn, user_id)
    if user is None:
        user = await local_account(rt, ref)
    return _seen(user, viewer, rt.config)


async def lookup_account(
    rt: Runtime, acct: str, viewer: User | None, remote: User | None = None
) -> User:
    """Mastodon's lookup: the account with the nickname ``acct`` names
    (never an id: a client resolving ``@12345`` means that nickname), or
    ``remote``, the account a remote ``acct`` resolved to, if ``viewer``
    may see it; NotFound otherwise."""
    return _seen(remote or await local_account(rt, acct), viewer, rt.config)


async def local_account(rt: Runtime, address: str) -> User | None:
    """The local account ``address`` names (``nick``, ``@nick`` or
    ``nick@our-host``, any case), whoever may see it; without federation
    any other ``nick@host`` names nobody."""
    nickname = local_nickname(address, rt.config.server.base_url)
    if not nickname or "@" in nickname:
        return None
    return await rt.db.run_interaction(
        "account by nickname", users.get_user_by_nickname_txn, nickname
    )


def _seen(user: User | None, viewer: User | None, config: Config) -> User:
    if user is None or not visible_to(user, viewer, config):
        raise NotFound(NOT_FOUND)
    return user


async def search_accounts(
    rt: Runtime,
    query: str,
    viewer: User | None,
    *,
    limit: int,
    offset: int,
    following: bool = False,
    resolved: User | None = None,
) -> list[User]:
    """Accounts anyone may find by a prefix of their nickname or name, the
    exact nickname (``nick`` or ``nick@our-host``) first (DECISIONS 25);
    with ``following``, only those ``viewer`` follows (none for an
    anonymous reader, who follows nobody).  ``resolved``: the account the
    query names as an address or actor URL, first on the first page."""
    text = local_nickname(query, rt.config.server.base_url)
    if not text or (following and viewer is None):
        return []
    found = await rt.db.run_interaction(
        "account search",
        users.search_users_txn,
        text,
        limit=limit,
        offset=offset,
        hide_unconfirmed=rt.config.instance.account_activation_required,
        followed_by=viewer.id if following and viewer is not None else None,
    )
    if (
        resolved is None
        or following
        or offset
        or not visible_to(resolved, viewer, rt.config)
        or any(u.id == resolved.id for u in found)
    ):
        return found
    return [resolved, *found][:limit]


@dataclass(frozen=True)
class ProfileEdit:
    """What update_credentials asked to change; None (or empty) leaves it."""

    display_name: str | None = None
    note: str | None = None
    default_scope: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    settings_store: dict[str, Any] | None = None


def _changes(edit: ProfileEdit, config: Config) -> dict[str, Any]:
    """The users columns ``edit`` sets, or InvalidProfile naming the field."""
    limits = config.instance
    changes: dict[str, Any] = {}
    if edit.display_name is not None:
        if len(edit.display_name) > limits.user_name_length:
            raise InvalidProfile(
                f"display_name is too long (at most {limits.user_name_length} characters)"
            )
        # An empty name clears it: the account then shows its nickname.
        changes["name"] = edit.display_name or None
    if edit.note is not None:
        if len(edit.note) > limits.user_bio_length:
            raise InvalidProfile(f"note is too long (at most {limits.user_bio_length} characters)")
        changes["bio"] = edit.note  # bio_html: in the transaction, which knows the mentions
    if edit.default_scope is not None:
        if edit.default_scope not in SCOPES:
            raise InvalidProfile(f"default_scope must be one of {', '.join(SCOPES)}")
        changes["default_scope"] = edit.default_scope
    unknown = set(edit.flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"not a profile flag: {sorted(unknown)}")
    changes.update(edit.flags)
    return changes


async def edit_profile(rt: Runtime, user: User, edit: ProfileEdit) -> User:
    """Apply ``edit`` to ``user`` all at once, or change nothing and raise
    InvalidProfile naming the first field the instance refuses."""
    changes = _changes(edit, rt.config)
    updated = await rt.db.run_interaction(
        "edit profile", _edit_profile_txn, rt.config, user, changes, edit.settings_store
    )
    if updated is None:  # deleted under our feet
        raise NotFound(NOT_FOUND)
    return updated


async def _edit_profile_txn(
    txn: Txn,
    config: Config,
    user: User,
    changes: dict[str, Any],
    store_patch: dict[str, Any] | None,
) -> User | None:
    user_id = user.id
    if "bio" in changes:
        changes = {**changes, "bio_html": await bio_html_txn(txn, config, changes["bio"], user)}
    if store_patch:
        current = await users.get_user_for_update_txn(txn, user_id)
        if current is None:
            return None
        # A shallow merge, as the reference's Map.merge: a key replaces its value.
        merged = {**current.settings_store, **store_patch}
        encoded = json.dumps(merged, ensure_ascii=False)
        if len(encoded.encode("utf-8")) > SETTINGS_STORE_LIMIT:
            raise InvalidProfile(
                f"pleroma_settings_store is too large (at most {SETTINGS_STORE_LIMIT} bytes)"
            )
        changes = {**changes, "settings_store": merged}
    return await users.update_user_txn(txn, user_id, **changes)
