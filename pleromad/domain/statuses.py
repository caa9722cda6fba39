"""Statuses: posting, reading, threads, deleting; favourites and reblogs.

A post is checked completely before anything is written (length in code
points, emptiness, the status replied to, visibility, attachments), its
content is rendered once to safe HTML (:mod:`pleromad.domain.content`), and
it is written with its mentions, tags, emoji and attachments in one
transaction that also creates its notifications.  Who may see a status is
decided by the one visibility predicate in every query
(:mod:`pleromad.store.visibility`); a status the reader may not see does not
exist for them: 404, as an unknown id.

Favourite, unfavourite, reblog and unreblog are idempotent (DECISIONS 7); a
reblog is a status row of the reblogger pointing at the original, and acting
on a reblog acts on its original.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twisted.internet.threads import deferToThread

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import content, idempotency, notifications, publishing
from pleromad.domain.profile import mention_targets_txn
from pleromad.emoji.table import EmojiTable, custom_emoji
from pleromad.errors import ApiError, Forbidden, NotFound
from pleromad.ids import parse_id
from pleromad.model import Claim, Listed, Loaded, NewStatus, Status, StatusVersion, User
from pleromad.store import favourites as favourites_store
from pleromad.store import loader, timelines
from pleromad.store import media as media_store
from pleromad.store import statuses as store
from pleromad.store.timelines import Window

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

VISIBILITIES = ("public", "unlisted", "private", "direct")

OVER_LIMIT = "The status is over the character limit"
EMPTY = "Cannot post an empty status without attachments"
MUST_BE_DIRECT = "The message visibility must be direct"
INVALID_VISIBILITY = "Invalid visibility: expected public, unlisted, private or direct"
INVALID_MEDIA = "Invalid media_ids: not attachments of yours"
CANT_DELETE = "Can't delete this post"
CANT_EDIT = "Can't edit this post"
CANT_SEE_SOURCE = "Can't see the source of this post"
CANT_REBLOG = "Only public and unlisted statuses can be reblogged"
NO_POLLS = "Polls are not supported"
NO_SCHEDULING = "Scheduled statuses are not supported"

# Rows deleted per transaction when a deleted account's content is removed.
REMOVAL_BATCH = 1000


# The Status entity of a loaded status, for the author, as the client gets it.
Render = Callable[[Loaded], Any]


class InvalidStatus(ApiError):
    status = 422


@dataclass(frozen=True)
class StatusForm:
    """``POST /api/v1/statuses`` as the client sent it."""

    status: str = ""
    spoiler_text: str = ""
    content_type: str = content.PLAIN
    # None: the replied-to status' visibility, else public.
    visibility: str | None = None
    sensitive: bool = False
    in_reply_to_id: str | None = None
    media_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    loaded: Loaded
    ancestors: tuple[int, ...]
    descendants: tuple[int, ...]


def status_id(ref: str) -> int | None:
    """The status id ``ref`` names, or None when it cannot name one."""
    return parse_id(ref) if ref == ref.strip() else None


def _viewer_id(viewer: User | None) -> int | None:
    return None if viewer is None else viewer.id


# -- posting --------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """A form that passed every check that needs no database."""

    text: str
    spoiler: str
    content_type: str
    visibility: str | None
    sensitive: bool
    in_reply_to_id: int | None
    media_ids: tuple[int, ...]
    emojis: tuple[tuple[str, str], ...]


def used_emoji(table: EmojiTable, base_url: str, *texts: str) -> tuple[tuple[str, str], ...]:
    """The custom emoji of ``table`` that ``texts`` use: (shortcode, absolute URL)."""
    by_shortcode = {entry.shortcode: entry for entry in table.emoji}
    return tuple(
        (code, custom_emoji(by_shortcode[code], base_url)["url"])
        for code in content.emoji_shortcodes(*texts)
        if code in by_shortcode
    )


def check_form(form: StatusForm, config: Config, emoji: EmojiTable) -> _Checked:
    """The form's values, or InvalidStatus (or NotFound for a reply to
    an id that cannot exist)."""
    text = form.status.strip()
    spoiler = form.spoiler_text.strip()
    # Code points, as DECISIONS 22 says; the spoiler counts too.
    if len(text) + len(spoiler) > config.instance.status_limit:
        raise InvalidStatus(OVER_LIMIT)
    if form.visibility is not None and form.visibility not in VISIBILITIES:
        raise InvalidStatus(INVALID_VISIBILITY)
    media_ids = []
    for ref in form.media_ids:
        media_id = status_id(ref.strip())
        if media_id is None:
            raise InvalidStatus(INVALID_MEDIA)
        if media_id not in media_ids:
            media_ids.append(media_id)
    if not text and not media_ids:
        raise InvalidStatus(EMPTY)
    in_reply_to_id = None
    if form.in_reply_to_id:
        in_reply_to_id = status_id(form.in_reply_to_id.strip())
        if in_reply_to_id is None:
            raise NotFound()
    emojis = used_emoji(emoji, config.server.base_url, text, spoiler)
    content_type = (
        form.content_type if form.content_type in content.CONTENT_TYPES else content.PLAIN
    )
    return _Checked(
        text=text,
        spoiler=spoiler,
        content_type=content_type,
        visibility=form.visibility,
        sensitive=form.sensitive,
        in_reply_to_id=in_reply_to_id,
        media_ids=tuple(media_ids),
        emojis=emojis,
    )


async def post_status(
    rt: Runtime,
    author: User,
    form: StatusForm,
    *,
    render: Render,
    claim: Claim | None = None,
) -> Any:
    """Post ``form`` as ``author``; the answer is ``render`` of the new status.

    Under an Idempotency-Key ``claim`` (DECISIONS 26) the answer is
    remembered in the post's own transaction, so that a status is posted
    once per key even if the daemon dies just after.
    """
    checked = check_form(form, rt.config, await rt.emoji.current())
    # Markdown and the sanitizer are CPU work: off the reactor, and before
    # the transaction, which only links the result.
    markup = await deferToThread(content.safe_markup, checked.text, checked.content_type)
    return await rt.db.run_interaction(
        "post status",
        _post_txn,
        rt.config,
        author,
        checked,
        markup,
        render,
        claim,
        rt.clock.seconds(),
    )


async def _post_txn(
    txn: Txn,
    config: Config,
    author: User,
    checked: _Checked,
    markup: str,
    render: Render,
    claim: Claim | None,
    now: float,
) -> Any:
    parent = None
    if checked.in_reply_to_id is not None:
        parent = await _original_txn(txn, checked.in_reply_to_id, author.id)
    visibility = checked.visibility or (parent.visibility if parent else "public")
    if parent is not None and parent.visibility == "direct" and visibility != "direct":
        raise InvalidStatus(MUST_BE_DIRECT)
    attached = await media_store.get_user_attachments_txn(txn, author.id, list(checked.media_ids))
    if len(attached) != len(checked.media_ids):
        raise InvalidStatus(INVALID_MEDIA)
    targets = await mention_targets_txn(txn, config, author, checked.text)
    rendered = content.link_content(markup, base_url=config.server.base_url, mentions=targets)
    mention_ids = [target.id for target in rendered.mentions]
    # A reply addresses the author replied to, named or not.
    if parent is not None and parent.account_id != author.id:
        mention_ids.append(parent.account_id)
    new_id = await store.new_id_txn(txn)
    await store.insert_status_txn(
        txn,
        NewStatus(
            id=new_id,
            account_id=author.id,
            in_reply_to_id=parent.id if parent else None,
            in_reply_to_account_id=parent.account_id if parent else None,
            conversation_id=parent.conversation_id if parent else new_id,
            visibility=visibility,
            content_type=checked.content_type,
            source=checked.text,
            content=rendered.html,
            spoiler_text=content.sanitize_text(checked.spoiler),
            sensitive=checked.sensitive or "nsfw" in rendered.tags,
            mention_ids=tuple(dict.fromkeys(mention_ids)),
            tags=rendered.tags,
            emojis=checked.emojis,
            media_ids=checked.media_ids,
            # A reply stays in the thread a remote parent named.
            context=parent.context if parent else None,
        ),
    )
    await notifications.on_status_txn(txn, new_id)
    loaded = await loader.load_txn(txn, [new_id], author.id)
    await publishing.on_post_txn(txn, config, loaded, new_id)
    answer = render(loaded)
    if claim is not None:
        await idempotency.record_txn(txn, claim, answer, now)
    return answer


async def _original_txn(txn: Txn, ref_id: int, viewer_id: int | None) -> Status:
    """The status ``ref_id`` names for the viewer — the original, for a
    reblog — or NotFound."""
    found = await store.get_visible_txn(txn, ref_id, viewer_id)
    if found is not None and found.reblog_of_id is not None:
        found = await store.get_visible_txn(txn, found.reblog_of_id, viewer_id)
    if found is None:
        raise NotFound()
    return found


# -- editing ----------------------------------------------------------------------


async def edit_status(rt: Runtime, ref: str, author: User, form: StatusForm) -> Loaded:
    """Edit the author's own post: its text (and source), spoiler,
    sensitivity and attachments, checked as a new post is (``visibility``
    and ``in_reply_to_id`` of the form are not the edit's to change).  The
    version replaced is kept (:func:`history`) and the post's Update goes
    where its Create went."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    checked = check_form(
        replace(form, visibility=None, in_reply_to_id=None), rt.config, await rt.emoji.current()
    )
    markup = await deferToThread(content.safe_markup, checked.text, checked.content_type)
    return await rt.db.run_interaction(
        "edit status", _edit_txn, rt.config, wanted, author, checked, markup, rt.clock.seconds()
    )


async def _edit_txn(
    txn: Txn,
    config: Config,
    wanted: int,
    author: User,
    checked: _Checked,
    markup: str,
    now: float,
) -> Loaded:
    status = await _own_post_txn(txn, wanted, author, CANT_EDIT)
    attached = await media_store.get_user_attachments_txn(txn, author.id, list(checked.media_ids))
    if len(attached) != len(checked.media_ids):
        raise InvalidStatus(INVALID_MEDIA)
    targets = await mention_targets_txn(txn, config, author, checked.text)
    rendered = content.link_content(markup, base_url=config.server.base_url, mentions=targets)
    await store.edit_post_txn(
        txn,
        status.id,
        content=rendered.html,
        spoiler_text=content.sanitize_text(checked.spoiler),
        sensitive=checked.sensitive or "nsfw" in rendered.tags,
        tags=rendered.tags,
        emojis=checked.emojis,
        edited_at=max(datetime.fromtimestamp(now, UTC), status.edited_at or status.created_at),
        source=checked.text,
        content_type=checked.content_type,
        media_ids=checked.media_ids,
        mention_ids=[target.id for target in rendered.mentions],
    )
    loaded = await loader.load_txn(txn, [status.id], author.id)
    await publishing.on_edit_txn(txn, config, loaded, status.id)
    return loaded


async def _own_post_txn(txn: Txn, wanted: int, user: User, refusal: str) -> Status:
    """The post ``wanted`` if it is ``user``'s; NotFound when they may not
    see it (or it is a reblog), Forbidden(``refusal``) when it is another's."""
    status = await store.get_visible_txn(txn, wanted, user.id)
    if status is None or status.reblog_of_id is not None:
        raise NotFound()
    if status.account_id != user.id:
        raise Forbidden(refusal)
    return status


async def history(rt: Runtime, ref: str, viewer: User | None) -> tuple[Loaded, list[StatusVersion]]:
    """The post ``ref`` as ``viewer`` may see it, and the versions its edits
    replaced, oldest first (none when it was never edited)."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction("status history", _history_txn, wanted, _viewer_id(viewer))


async def _history_txn(
    txn: Txn, wanted: int, viewer_id: int | None
) -> tuple[Loaded, list[StatusVersion]]:
    loaded = await loader.load_txn(txn, [wanted], viewer_id)
    if not loaded.order or loaded.statuses[wanted].status.reblog_of_id is not None:
        raise NotFound()
    return loaded, await store.versions_txn(txn, wanted)


async def source(rt: Runtime, ref: str, user: User) -> Status:
    """The author's own post, for its source text (to edit it)."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction(
        "status source", _own_post_txn, wanted, user, CANT_SEE_SOURCE
    )


# -- reading ----------------------------------------------------------------------


async def load(rt: Runtime, ids: Sequence[int], viewer: User | None) -> Loaded:
    """Statuses ``ids`` as ``viewer`` (None: anonymous) may see them, ready
    for :func:`pleromad.views.statuses.render_statuses` (in the order given;
    those the viewer may not see are left out)."""
    return await rt.db.run_interaction("load statuses", loader.load_txn, ids, _viewer_id(viewer))


async def search(
    rt: Runtime, query: str, viewer: User | None, *, limit: int, offset: int
) -> Loaded:
    """Statuses holding every word of ``query`` that ``viewer`` may see, newest first."""
    ids = await rt.db.run_interaction(
        "search statuses", store.search_txn, query, _viewer_id(viewer), limit, offset
    )
    return await load(rt, ids, viewer)


async def get_status(rt: Runtime, ref: str, viewer: User | None) -> Loaded:
    """The status ``ref`` names, loaded for ``viewer``; NotFound when
    there is none the viewer may see."""
    wanted = status_id(ref)
    loaded = None if wanted is None else await load(rt, [wanted], viewer)
    if loaded is None or not loaded.order:
        raise NotFound()
    return loaded


async def get_statuses(rt: Runtime, refs: Sequence[str], viewer: User | None) -> Loaded:
    """The statuses ``refs`` name that ``viewer`` may see, in the order asked."""
    ids = [i for i in map(status_id, refs) if i is not None]
    return await load(rt, ids, viewer)


async def context(rt: Runtime, ref: str, viewer: User | None) -> Context:
    """The thread around the status ``ref`` (around the original, for a
    reblog): the ancestors and descendants the viewer may see."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction("status context", _context_txn, wanted, _viewer_id(viewer))


async def _context_txn(txn: Txn, wanted: int, viewer_id: int | None) -> Context:
    status = await _original_txn(txn, wanted, viewer_id)
    ancestors, descendants = await store.context_txn(txn, status, viewer_id)
    loaded = await loader.load_txn(txn, ancestors + descendants, viewer_id)
    shown = set(loaded.order)
    return Context(
        loaded,
        tuple(i for i in ancestors if i in shown),
        tuple(i for i in descendants if i in shown),
    )


# -- deleting ---------------------------------------------------------------------


async def delete_status(rt: Runtime, ref: str, user: User, *, godmode: bool = False) -> Loaded:
    """Delete the status ``ref`` (the user's own, or any a moderator or admin
    can see, or any at all with ``godmode``: the Admin API); the answer is
    the status as it was."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction(
        "delete status", _delete_txn, rt.config, wanted, user, godmode
    )


async def _delete_txn(txn: Txn, config: Config, wanted: int, user: User, godmode: bool) -> Loaded:
    if godmode:
        status = await store.get_status_txn(txn, wanted)
    else:
        status = await store.get_visible_txn(txn, wanted, user.id)
    if status is None:
        raise NotFound()
    if status.account_id != user.id and not (user.is_admin or user.is_moderator):
        raise Forbidden(CANT_DELETE)
    loaded = await loader.load_txn(txn, [status.id], user.id, godmode=godmode)
    await publishing.on_delete_txn(txn, config, loaded, status.id)
    await store.delete_status_txn(txn, status.id)
    return loaded


# -- favourites and reblogs -------------------------------------------------------


async def favourite(rt: Runtime, ref: str, user: User) -> Loaded:
    """Favourite the status (again: nothing changes); its author is notified once."""
    return await _act(rt, "favourite", _favourite_txn, ref, user)


async def unfavourite(rt: Runtime, ref: str, user: User) -> Loaded:
    return await _act(rt, "unfavourite", _unfavourite_txn, ref, user)


async def reblog(rt: Runtime, ref: str, user: User) -> Loaded:
    """Reblog the status (again: nothing changes); the answer is the reblog,
    wrapping the original.  Only public and unlisted statuses."""
    return await _act(rt, "reblog", _reblog_txn, ref, user)


async def unreblog(rt: Runtime, ref: str, user: User) -> Loaded:
    """Undo the reblog; the answer is the original."""
    return await _act(rt, "unreblog", _unreblog_txn, ref, user)


async def _act(rt: Runtime, what: str, action_txn: Any, ref: str, user: User) -> Loaded:
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction(what, action_txn, rt.config, wanted, user)


async def _favourite_txn(txn: Txn, config: Config, wanted: int, user: User) -> Loaded:
    status = await _original_txn(txn, wanted, user.id)
    favourite_id = await favourites_store.insert_favourite_txn(txn, user.id, status.id)
    if favourite_id is not None:
        await notifications.on_favourite_txn(txn, user.id, status.id)
        await publishing.on_favourite_txn(txn, config, user, status, favourite_id)
    return await loader.load_txn(txn, [status.id], user.id)


async def _unfavourite_txn(txn: Txn, config: Config, wanted: int, user: User) -> Loaded:
    status = await _original_txn(txn, wanted, user.id)
    favourite_id = await favourites_store.delete_favourite_txn(txn, user.id, status.id)
    if favourite_id is not None:
        await publishing.on_favourite_txn(txn, config, user, status, favourite_id, undo=True)
    return await loader.load_txn(txn, [status.id], user.id)


async def _reblog_txn(txn: Txn, config: Config, wanted: int, user: User) -> Loaded:
    status = await _original_txn(txn, wanted, user.id)
    if status.visibility not in store.PUBLIC_VISIBILITIES:
        raise Forbidden(CANT_REBLOG)
    reblog_id, created = await store.insert_reblog_txn(txn, user.id, status)
    if created:
        await notifications.on_reblog_txn(txn, user.id, status.id)
        reblog = await store.get_visible_txn(txn, reblog_id, user.id)
        assert reblog is not None  # just made, of a status the user sees
        await publishing.on_reblog_txn(txn, config, user, reblog, status)
    return await loader.load_txn(txn, [reblog_id], user.id)


async def _unreblog_txn(txn: Txn, config: Config, wanted: int, user: User) -> Loaded:
    status = await _original_txn(txn, wanted, user.id)
    reblog = await store.delete_reblog_txn(txn, user.id, status.id)
    if reblog is not None:
        await publishing.on_reblog_txn(txn, config, user, reblog, status, undo=True)
    return await loader.load_txn(txn, [status.id], user.id)


async def favourites(rt: Runtime, user: User, page: Window) -> tuple[Loaded, list[int]]:
    """One page of the user's favourites whose statuses they may still see,
    newest favourite first, and the favourite ids that key the page."""
    return await rt.db.run_reads("favourites", _favourites_txn, user.id, page)


async def _favourites_txn(txn: Txn, user_id: int, page: Window) -> tuple[Loaded, list[int]]:
    return await loader.load_page_txn(
        txn, timelines.favourites_query(user_id, user_id, page), user_id, status_column="status_id"
    )


async def favourited_by(rt: Runtime, ref: str, viewer: User | None, page: Window) -> list[Listed]:
    """Who favourited the status, newest first, if the viewer may see it."""
    return await _who(rt, "favourites", ref, viewer, page)


async def reblogged_by(rt: Runtime, ref: str, viewer: User | None, page: Window) -> list[Listed]:
    """Who reblogged the status, newest first, if the viewer may see it."""
    return await _who(rt, "reblogs", ref, viewer, page)


async def _who(rt: Runtime, kind: str, ref: str, viewer: User | None, page: Window) -> list[Listed]:
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    return await rt.db.run_interaction(
        f"status {kind}", _who_txn, kind, wanted, _viewer_id(viewer), page
    )


async def _who_txn(
    txn: Txn, kind: str, wanted: int, viewer_id: int | None, page: Window
) -> list[Listed]:
    status = await _original_txn(txn, wanted, viewer_id)
    return await store.who_txn(txn, kind, status.id, page)


# -- a deleted account ------------------------------------------------------------


async def remove_user_statuses(rt: Runtime, user_id: int) -> None:
    """Delete the favourites, reblogs and statuses of a deleted account, a
    batch per transaction (a content step of account deletion; idempotent)."""
    while await rt.db.run_interaction(
        "delete account favourites",
        favourites_store.delete_account_favourites_txn,
        user_id,
        REMOVAL_BATCH,
    ):
        pass
    while await rt.db.run_interaction(
        "delete account statuses", store.delete_account_statuses_txn, user_id, REMOVAL_BATCH
    ):
        pass
