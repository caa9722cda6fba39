"""The Status entity (mastodon-subset §2.3), with Pleroma's extras.

Rendered from what :func:`pleromad.store.loader.load_txn` loaded for one
viewer: ``favourited``, ``reblogged`` and ``muted`` are that viewer's, the
counts count only what is still there.  A reblog is Pleroma's wrapper: the
reblogger's entry around the full original in ``reblog``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import quote

from pleromad.config import Config
from pleromad.model import AttachmentVersion, Loaded, Shown, StatusVersion, User
from pleromad.views.accounts import public_account, render_account
from pleromad.views.activitypub import note_id, notice_url
from pleromad.views.cache import RenderCache
from pleromad.views.dates import masto_date
from pleromad.views.media import render_attachment
from pleromad.views.relationships import relationship_entity

# The posting app is not recorded (as in the reference).
APPLICATION = {"name": "Web", "website": None}

_PARAGRAPH_BREAK = re.compile(r"</(?:p|blockquote|pre|ul|ol)>\s*(?=<)", re.IGNORECASE)
_LINE_BREAK = re.compile(r"<br\s*/?>|</li>", re.IGNORECASE)
_ELEMENT = re.compile(r"<[^>]*>")


def to_plain_text(markup: str) -> str:
    """Our own sanitized HTML as plain text: paragraphs and lines kept as
    line breaks, elements dropped, entities decoded."""
    text = _LINE_BREAK.sub("\n", _PARAGRAPH_BREAK.sub("\n\n", markup))
    return html.unescape(_ELEMENT.sub("", text)).strip()


class _Renderer:
    """Renders statuses of one :class:`Loaded`, each account once; the
    viewer-independent parts are taken from ``cache`` when it holds them."""

    def __init__(
        self,
        loaded: Loaded,
        config: Config,
        viewer: User | None,
        hidden: Collection[int],
        cache: RenderCache | None = None,
    ) -> None:
        self.loaded = loaded
        self.hidden = hidden
        self.config = config
        self.viewer = viewer
        self.cache = cache
        self.base_url = config.server.base_url.rstrip("/")
        self._accounts: dict[int, dict[str, Any]] = {}

    def account(self, user_id: int) -> dict[str, Any]:
        if user_id not in self._accounts:
            loaded = self.loaded
            user = loaded.users[user_id]
            counts = loaded.follow_counts.get(user_id)
            relationship = loaded.relationships.get(user_id)
            document = loaded.remote_documents.get(user_id)
            public = None
            version = loaded.account_versions.get(user_id)
            if self.cache is not None and version is not None:
                public = self.cache.render(
                    "account",
                    user_id,
                    version,
                    lambda: public_account(user, config=self.config, remote_document=document),
                )
            self._accounts[user_id] = render_account(
                user,
                config=self.config,
                hidden=user_id in self.hidden,
                viewer_user=self.viewer,
                followers_count=counts.followers if counts else 0,
                following_count=counts.following if counts else 0,
                statuses_count=loaded.statuses_counts.get(user_id, 0),
                relationship=relationship_entity(relationship) if relationship else None,
                remote_document=document,
                public=public,
            )
        return self._accounts[user_id]

    def status(self, status_id: int) -> dict[str, Any]:
        shown = self.loaded.statuses[status_id]
        if shown.status.reblog_of_id is not None:
            return self._reblog(shown)
        return self._post(shown)

    def _post(self, shown: Shown) -> dict[str, Any]:
        """The post's kept public part, with what changes apart from its
        row: the viewer's flags, the counts, the accounts, the attachments."""
        status = shown.status
        users = self.loaded.users
        if self.cache is None:
            public = self._public_post(shown)
        else:
            public = self.cache.render(
                "status", status.id, shown.version, lambda: self._public_post(shown)
            )
        parent_author = users.get(status.in_reply_to_account_id or 0)
        return {
            **public,
            "account": self.account(status.account_id),
            "reblogs_count": shown.reblogs_count,
            "replies_count": shown.replies_count,
            "favourites_count": shown.favourites_count,
            "reblogged": shown.reblogged,
            "favourited": shown.favourited,
            "muted": shown.muted,
            "media_attachments": self._attachments(shown),
            "mentions": [
                _mention(users[i]) for i in shown.mention_ids if i in users and not users[i].deleted
            ],
            "application": dict(APPLICATION),
            "pleroma": {
                **public["pleroma"],
                "in_reply_to_account_acct": parent_author.nickname if parent_author else None,
            },
        }

    def _public_post(self, shown: Shown) -> dict[str, Any]:
        """What the post's own row (with its tags and emoji) says, the same
        for every reader; the keys :meth:`_post` fills are placeholders that
        keep the entity's order."""
        status = shown.status
        return {
            "id": str(status.id),
            "uri": note_id(status, self.base_url),
            "url": notice_url(status, self.base_url),
            "account": None,
            "in_reply_to_id": _id(status.in_reply_to_id),
            "in_reply_to_account_id": _id(status.in_reply_to_account_id),
            "reblog": None,
            "card": None,
            "content": status.content,
            "created_at": masto_date(status.created_at),
            "reblogs_count": 0,
            "replies_count": 0,
            "favourites_count": 0,
            "reblogged": False,
            "favourited": False,
            "bookmarked": False,
            "muted": False,
            "pinned": False,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "media_attachments": [],
            "poll": None,
            "mentions": [],
            "tags": [
                {"name": tag, "url": f"{self.base_url}/tag/{quote(tag)}"} for tag in shown.tags
            ],
            "application": None,
            "language": None,
            "emojis": _emojis(shown.emojis),
            "pleroma": {
                "local": self.loaded.users[status.account_id].local,
                "conversation_id": status.conversation_id,
                "in_reply_to_account_acct": None,
                "content": {"text/plain": to_plain_text(status.content)},
                "spoiler_text": {"text/plain": html.unescape(status.spoiler_text)},
            },
        }

    def _reblog(self, shown: Shown) -> dict[str, Any]:
        """Pleroma's Announce wrapper: the reblogger's entry; the original's
        content, attachments and tags copied; counts 0; the viewer's own
        favourite and reblog of the original; no ``card`` or ``poll``."""
        status = shown.status
        assert status.reblog_of_id is not None
        original = self.status(status.reblog_of_id)
        return {
            "id": str(status.id),
            "uri": original["uri"],
            "url": original["url"],
            "account": self.account(status.account_id),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "reblog": original,
            "content": original["content"],
            "created_at": masto_date(status.created_at),
            "reblogs_count": 0,
            "replies_count": 0,
            "favourites_count": 0,
            "reblogged": original["reblogged"],
            "favourited": original["favourited"],
            "bookmarked": False,
            "muted": shown.muted,
            "pinned": False,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "media_attachments": original["media_attachments"],
            "mentions": [],
            "tags": original["tags"],
            "application": dict(APPLICATION),
            "language": None,
            "emojis": [],
            "pleroma": {"local": self.loaded.users[status.account_id].local},
        }

    def _attachments(self, shown: Shown) -> list[dict[str, Any]]:
        media = self.loaded.media
        return [render_attachment(media[i]) for i in shown.media_ids if i in media]


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def _mention(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "acct": user.nickname,
        "username": user.nickname.split("@", 1)[0],
        "url": user.ap_id,
    }


def render_statuses(
    loaded: Loaded,
    *,
    config: Config,
    viewer: User | None,
    hidden: Collection[int],
    ids: Any = None,
    cache: RenderCache | None = None,
) -> list[dict[str, Any]]:
    """The Status entities of ``loaded`` (of ``ids`` among them, when given),
    in order, as ``viewer`` sees them; the accounts ``hidden`` from the
    viewer (:func:`pleromad.domain.profile.hidden_accounts`) render as ``{}``.
    With a ``cache``, what does not depend on the viewer is rendered once
    per version of its rows."""
    renderer = _Renderer(loaded, config, viewer, hidden, cache)
    shown = set(loaded.order)
    wanted = loaded.order if ids is None else [i for i in ids if i in shown]
    return [renderer.status(i) for i in wanted]


def render_status(
    loaded: Loaded,
    *,
    config: Config,
    viewer: User | None,
    hidden: Collection[int],
    cache: RenderCache | None = None,
) -> dict[str, Any]:
    """The first (usually only) status of ``loaded``."""
    return render_statuses(
        loaded, config=config, viewer=viewer, hidden=hidden, ids=loaded.order[:1], cache=cache
    )[0]


def render_history(
    loaded: Loaded,
    versions: Sequence[StatusVersion],
    *,
    config: Config,
    viewer: User | None,
    hidden: Collection[int],
) -> list[dict[str, Any]]:
    """Mastodon's StatusEdit list of the first post of ``loaded``: each
    version its edits replaced, oldest first, then the post as it is now
    (alone when it was never edited)."""
    shown = loaded.statuses[loaded.order[0]]
    status = shown.status
    renderer = _Renderer(loaded, config, viewer, hidden)
    account = renderer.account(status.account_id)
    current = StatusVersion(
        content=status.content,
        spoiler_text=status.spoiler_text,
        sensitive=status.sensitive,
        media=tuple(
            AttachmentVersion(
                id=m.id,
                url=m.url,
                mime_type=m.mime_type,
                description=m.description,
                blurhash=m.blurhash,
                width=m.width,
                height=m.height,
            )
            for i in shown.media_ids
            if (m := loaded.media.get(i)) is not None
        ),
        emojis=shown.emojis,
        created_at=status.edited_at or status.created_at,
    )
    return [
        {
            "content": version.content,
            "spoiler_text": version.spoiler_text,
            "sensitive": version.sensitive,
            "created_at": masto_date(version.created_at),
            "account": account,
            "media_attachments": [render_attachment(m) for m in version.media],
            "emojis": _emojis(version.emojis),
        }
        for version in (*versions, current)
    ]


def _emojis(emojis: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"shortcode": code, "url": url, "static_url": url, "visible_in_picker": False}
        for code, url in emojis
    ]
