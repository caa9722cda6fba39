"""Incoming statuses: what remote posts, boosts and favourites become here.

Each applier takes an activity the inbox has verified as sent by ``actor``
(the remote account's users row) and writes it to the tables local statuses
use, so that a remote post, reblog or favourite is listed, counted, threaded
and notified exactly like a local one: a Create of a Note is a statuses row
of its author, an Announce a reblog row, a Like a favourites row, each
notifying through :mod:`pleromad.domain.notifications` (which honours the
recipients' settings, ``remote`` among them).

Where ActivityPub leaves a choice, Mastodon's is taken: visibility from the
addressing (Public in ``to``: public; in ``cc``: unlisted; the author's
followers collection in ``to``: private; otherwise direct), Note and
Question stored as posts, Article and Page as their title and a link.

Everything in an activity is a stranger's: HTML goes through the one
sanitizer, a spoiler or an attachment's description keeps no markup, every
URL a client will follow must be http(s), lists are read up to a bound, and
whatever does not hold is dropped (logged, nothing written) — an object
that is not its actor's, on another host than its actor, or about a status
the actor may not see (the visibility rule local readers are held to,
blocks included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from twisted.logger import Logger

from pleromad.db.pool import Txn
from pleromad.domain import content, notifications
from pleromad.domain.activities import Dropped
from pleromad.domain.actor_keys import signing_key
from pleromad.domain.remote_actors import ActorNotFound, resolve_actor
from pleromad.federation.fetch import FetchError
from pleromad.ids import parse_id
from pleromad.model import NewStatus, Status, User
from pleromad.store import favourites as favourites_store
from pleromad.store import loader
from pleromad.store import media as media_store
from pleromad.store import remote_actors as actors_store
from pleromad.store import statuses as store
from pleromad.store import users as users_store
from pleromad.store.media import RemoteAttachment
from pleromad.store.statuses import PUBLIC_VISIBILITIES

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

log = Logger()

PUBLIC_COLLECTION = "https://www.w3.org/ns/activitystreams#Public"
# The spellings of the public collection compacted JSON-LD may use.
_PUBLIC = frozenset({PUBLIC_COLLECTION, "as:Public", "Public"})

# Stored as posts; converted to their title and a link (as Mastodon does).
NOTE_TYPES = frozenset({"Note", "Question"})
CONVERTED_TYPES = frozenset({"Article", "Page"})

# Bounds on what one object may make us store or look up.  Mastodon shows
# at most a handful of attachments; 16 leaves room for servers that allow
# more, and anything beyond is ignored.
MAX_ATTACHMENTS = 16
MAX_TAGS = 100
MAX_ADDRESSEES = 200
# Mastodon's limit on an attachment's description.
MAX_DESCRIPTION = 1500
MAX_URL = 2048

_HASHTAG = re.compile(r"^\w+$")
_SHORTCODE = re.compile(r"^[A-Za-z0-9_+-]{1,100}$")
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
# Base83, the alphabet of a blurhash.
_BLURHASH = re.compile(r"^[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,128}$")
_MAX_DIMENSION = 100_000
_UNKNOWN_TYPE = "application/octet-stream"


# -- reading a Note ---------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """What a remote object says, checked and made safe to store."""

    ap_id: str
    url: str
    content: str
    spoiler_text: str
    sensitive: bool
    to: tuple[str, ...]
    cc: tuple[str, ...]
    in_reply_to: str | None
    context: str | None
    # Actor ids of the Mention tags and of the addressees.
    addressed: tuple[str, ...]
    tags: tuple[str, ...]
    emojis: tuple[tuple[str, str], ...]
    attachments: tuple[RemoteAttachment, ...]
    published: datetime | None
    # When it was last edited, as its server says (an Update's Note).
    updated: datetime | None

    def visibility(self, followers_url: str | None) -> str:
        """Mastodon's reading of the addressing."""
        if _PUBLIC.intersection(self.to):
            return "public"
        if _PUBLIC.intersection(self.cc):
            return "unlisted"
        if followers_url is not None and followers_url in self.to:
            return "private"
        return "direct"


def parse_note(obj: Any, author_ap_id: str, activity: dict[str, Any] | None = None) -> Note | None:
    """``obj`` as a post by the actor ``author_ap_id``, or None when it is
    not one: not a Note-like object, its id not on the actor's host, or
    attributed to someone else.  The addressing is the object's, else the
    ``activity``'s."""
    if not isinstance(obj, dict) or not _types(obj) & (NOTE_TYPES | CONVERTED_TYPES):
        return None
    ap_id = http_url(obj.get("id"))
    if ap_id is None or not same_host(ap_id, author_ap_id):
        return None
    if id_of(obj.get("attributedTo")) != author_ap_id:
        return None
    # The page people follow: the object's own on its host, else its id (as Mastodon).
    page = _href(obj.get("url"))
    if page is None or not same_host(page, author_ap_id):
        page = ap_id
    summary = _language_mapped(obj, "summary")
    if _types(obj) & NOTE_TYPES:
        html = content.sanitize_html(_language_mapped(obj, "content"))
        spoiler = content.sanitize_text(summary)
    else:
        html = _converted(obj, page, summary)
        spoiler = ""
    addressing = obj if "to" in obj or "cc" in obj or activity is None else activity
    to = _ids(addressing.get("to"))
    cc = _ids(addressing.get("cc"))
    tags = _as_list(obj.get("tag"))[:MAX_TAGS]
    mentioned = [id_of(tag.get("href")) for tag in tags if _is(tag, "Mention")]
    return Note(
        ap_id=ap_id,
        url=page,
        content=html,
        spoiler_text=spoiler,
        sensitive=obj.get("sensitive") is True,
        to=to,
        cc=cc,
        in_reply_to=id_of(obj.get("inReplyTo")),
        context=_context(obj),
        addressed=tuple(dict.fromkeys(i for i in (*mentioned, *to, *cc) if i is not None)),
        tags=tuple(dict.fromkeys(t for tag in tags if _is(tag, "Hashtag") if (t := _hashtag(tag)))),
        emojis=tuple({e[0]: e for tag in tags if _is(tag, "Emoji") if (e := _emoji(tag))}.values()),
        attachments=tuple(
            a
            for item in _as_list(obj.get("attachment"))[:MAX_ATTACHMENTS]
            if (a := _attachment(item))
        ),
        published=_published(obj.get("published")),
        updated=_published(obj.get("updated")),
    )


def id_of(value: Any) -> str | None:
    """The id a property names: a string, or an embedded object's ``id``
    (the first, of a list)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def http_url(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL of sensible length."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value


def host_of(url: str) -> str | None:
    """``host[:port]`` of an http(s) URL, lower-cased; None for anything else."""
    if http_url(url) is None:
        return None
    parts = urlsplit(url)
    assert parts.hostname is not None
    return parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"


def same_host(url: str, other: str) -> bool:
    host = host_of(url)
    return host is not None and host == host_of(other)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _types(obj: dict[str, Any]) -> set[str]:
    return {t for t in _as_list(obj.get("type")) if isinstance(t, str)}


def _is(value: Any, kind: str) -> bool:
    return isinstance(value, dict) and kind in _types(value)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(i for item in _as_list(value)[:MAX_ADDRESSEES] if (i := id_of(item)))


def _language_mapped(obj: dict[str, Any], name: str) -> str:
    """A natural-language property: ``name``, else the first of ``nameMap``."""
    value = obj.get(name)
    if isinstance(value, str) and value:
        return value
    mapped = obj.get(f"{name}Map")
    if isinstance(mapped, dict):
        for text in mapped.values():
            if isinstance(text, str):
                return text
    return ""


def _href(value: Any) -> str | None:
    """The URL a ``url`` property gives: a string or a Link, the HTML one
    first when there are several."""
    candidates = []
    for item in _as_list(value):
        if isinstance(item, str):
            candidates.append((True, item))
        elif isinstance(item, dict) and isinstance(item.get("href"), str):
            candidates.append((item.get("mediaType") in (None, "text/html"), item["href"]))
    for preferred in (True, False):
        for is_html, href in candidates:
            if is_html == preferred and (url := http_url(href)) is not None:
                return url
    return None


def _converted(obj: dict[str, Any], link: str, summary: str) -> str:
    """An Article or Page as Mastodon shows one: its title, its summary and
    a link to it, in paragraphs (title and summary as plain text)."""
    parts = [content.sanitize_text(text) for text in (_language_mapped(obj, "name"), summary)]
    parts.append(f'<a href="{escape(link)}">{escape(link)}</a>')
    return content.sanitize_html("".join(f"<p>{part}</p>" for part in parts if part))


def _context(obj: dict[str, Any]) -> str | None:
    for name in ("context", "conversation"):
        value = obj.get(name)
        if isinstance(value, str) and 0 < len(value) <= MAX_URL:
            return value
    return None


def _hashtag(tag: dict[str, Any]) -> str | None:
    name = tag.get("name")
    if not isinstance(name, str):
        return None
    name = name.removeprefix("#").lower()
    if len(name) > content.MAX_TAG_LENGTH or not _HASHTAG.match(name):
        return None
    return name


def _emoji(tag: dict[str, Any]) -> tuple[str, str] | None:
    name = tag.get("name")
    icon = tag.get("icon")
    if not isinstance(name, str) or not isinstance(icon, dict):
        return None
    shortcode = name.strip(":")
    url = http_url(icon.get("url"))
    if url is None or not _SHORTCODE.match(shortcode):
        return None
    return shortcode, url


def _attachment(item: Any) -> RemoteAttachment | None:
    if not isinstance(item, dict):
        return None
    url = _href(item.get("url"))
    if url is None:
        return None
    media_type = item.get("mediaType")
    name = item.get("name")
    blurhash = item.get("blurhash")
    return RemoteAttachment(
        url=url,
        mime_type=(
            media_type.lower()
            if isinstance(media_type, str) and _MEDIA_TYPE.match(media_type)
            else _UNKNOWN_TYPE
        ),
        description=content.sanitize_text(name[:MAX_DESCRIPTION]) if isinstance(name, str) else "",
        blurhash=blurhash if isinstance(blurhash, str) and _BLURHASH.match(blurhash) else None,
        width=_dimension(item.get("width")),
        height=_dimension(item.get("height")),
    )


def _dimension(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_DIMENSION:
        return value
    return None


def _published(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


# -- finding what an activity is about -----------------------------------------------


async def find_txn(txn: Txn, ap_id: str, base_url: str) -> Status | None:
    """The status an ActivityPub id names: one of ours by its Note's
    ``<base_url>/objects/<uuid>``, a remote one (or remote reblog) by its id."""
    local = base_url.rstrip("/") + "/objects/"
    if ap_id.startswith(local):
        try:
            object_uuid = UUID(ap_id.removeprefix(local))
        except ValueError:
            return None
        return await store.get_by_object_uuid_txn(txn, str(object_uuid))
    return await store.get_by_ap_id_txn(txn, ap_id)


async def _seen_by_txn(txn: Txn, status: Status, actor_id: int) -> Status | None:
    """``status`` if the account may see it (a post, not a reblog)."""
    if status.reblog_of_id is not None:
        return None
    return await store.get_visible_txn(txn, status.id, actor_id)


def _now(rt: Runtime) -> datetime:
    return datetime.fromtimestamp(rt.clock.seconds(), UTC)


def _activity_id(activity: dict[str, Any], actor: User) -> str | None:
    """The activity's id, if it is one its actor may give (on its host)."""
    ap_id = http_url(activity.get("id"))
    return ap_id if ap_id is not None and same_host(ap_id, actor.ap_id) else None


# -- Create --------------------------------------------------------------------------


async def apply_create(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """A remote post: stored once (a second Create of the same object does
    nothing), its mentioned local accounts notified."""
    note = parse_note(activity.get("object"), actor.ap_id, activity)
    if note is None:
        raise Dropped("not a post of its actor")
    await rt.db.run_interaction(
        "remote create",
        store_note_txn,
        rt.config.server.base_url,
        note,
        actor,
        _activity_id(activity, actor),
        _now(rt),
    )


async def store_note_txn(
    txn: Txn,
    base_url: str,
    note: Note,
    author: User,
    activity_ap_id: str | None,
    now: datetime,
) -> int:
    """Store ``note`` as ``author``'s status unless it is there already; its id."""
    existing = await store.get_by_ap_id_txn(txn, note.ap_id)
    if existing is not None:
        return existing.id
    parent = None
    if note.in_reply_to is not None:
        found = await find_txn(txn, note.in_reply_to, base_url)
        # A reply to what its author may not see is not threaded under it.
        parent = None if found is None else await _seen_by_txn(txn, found, author.id)
    new_id = await store.new_id_txn(txn)
    if parent is not None:
        conversation_id = parent.conversation_id
    else:
        conversation_id = await _conversation_txn(txn, note.context, base_url) or new_id
    mentioned = await users_store.ids_by_ap_id_txn(txn, note.addressed)
    known = await actors_store.get_by_user_id_txn(txn, author.id)
    followers_url = None if known is None or known.actor is None else known.actor.followers_url
    written = await store.insert_status_txn(
        txn,
        NewStatus(
            id=new_id,
            account_id=author.id,
            in_reply_to_id=parent.id if parent else None,
            in_reply_to_account_id=parent.account_id if parent else None,
            conversation_id=conversation_id,
            visibility=note.visibility(followers_url),
            content_type=content.HTML,
            source="",
            content=note.content,
            spoiler_text=note.spoiler_text,
            sensitive=note.sensitive,
            mention_ids=tuple(i for i in mentioned.values() if i != author.id),
            tags=note.tags,
            emojis=note.emojis,
            ap_id=note.ap_id,
            activity_ap_id=activity_ap_id,
            url=note.url,
            context=note.context,
            created_at=min(note.published, now) if note.published else now,
        ),
    )
    if not written:
        # Stored by a concurrent delivery of the same object.
        raced = await store.get_by_ap_id_txn(txn, note.ap_id)
        assert raced is not None
        return raced.id
    await media_store.attach_remote_txn(txn, new_id, author.id, note.attachments)
    await notifications.on_status_txn(txn, new_id)
    return new_id


async def _conversation_txn(txn: Txn, context: str | None, base_url: str) -> int | None:
    """The conversation a ``context`` names: one of ours
    (``<base_url>/contexts/<id>``), or that of a remote status sharing it."""
    if context is None:
        return None
    local = context.removeprefix(base_url.rstrip("/") + "/contexts/")
    if local != context:
        conversation_id = parse_id(local)
        if conversation_id is not None and await store.conversation_exists_txn(
            txn, conversation_id
        ):
            return conversation_id
        return None
    return await store.conversation_of_context_txn(txn, context)


# -- Update and Delete -----------------------------------------------------------------


async def apply_update_note(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """An edit of a stored remote post by its author: text, spoiler,
    sensitivity, tags, emoji and attachments are replaced, sanitized as a
    Create's are.  When what a reader sees changed, the version replaced is
    kept (its history); an Update that changes nothing shown (a poll's
    counts, a tag) corrects the post in place."""
    note = parse_note(activity.get("object"), actor.ap_id, activity)
    if note is None:
        raise Dropped("not a post of its actor")
    if not await rt.db.run_interaction("remote update", _update_txn, note, actor, _now(rt)):
        raise Dropped("no such post of its actor")


async def _update_txn(txn: Txn, note: Note, author: User, now: datetime) -> bool:
    status = await store.get_by_ap_id_txn(txn, note.ap_id)
    if status is None or status.account_id != author.id or status.reblog_of_id is not None:
        return False
    loaded = await loader.load_txn(txn, [status.id], None, godmode=True)
    shown = loaded.statuses[status.id]
    was = (
        status.content,
        status.spoiler_text,
        status.sensitive,
        set(shown.emojis),
        [(m.url, m.description) for i in shown.media_ids if (m := loaded.media.get(i))],
    )
    becomes = (
        note.content,
        note.spoiler_text,
        note.sensitive,
        set(note.emojis),
        [(a.url, a.description) for a in note.attachments],
    )
    edited_at = None
    if was != becomes:
        # Its server's time of the edit, never before the version it replaces
        # nor after it arrived.
        edited_at = max(min(note.updated or now, now), status.edited_at or status.created_at)
    await store.edit_post_txn(
        txn,
        status.id,
        content=note.content,
        spoiler_text=note.spoiler_text,
        sensitive=note.sensitive,
        tags=note.tags,
        emojis=note.emojis,
        edited_at=edited_at,
    )
    await media_store.detach_remote_txn(txn, status.id)
    await media_store.attach_remote_txn(txn, status.id, author.id, note.attachments)
    return True


async def apply_delete_object(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """A remote post (Note, Tombstone or bare id) deleted by its author:
    gone here, with its attachments, reblogs, favourites and notifications."""
    ap_id = id_of(activity.get("object"))
    if ap_id is None or not await rt.db.run_interaction("remote delete", _delete_txn, ap_id, actor):
        raise Dropped("no such status of its actor")


async def _delete_txn(txn: Txn, ap_id: str, author: User) -> bool:
    status = await store.get_by_ap_id_txn(txn, ap_id)
    if status is None or status.account_id != author.id:
        return False
    await media_store.detach_remote_txn(txn, status.id)
    return await store.delete_status_txn(txn, status.id)


# -- Announce --------------------------------------------------------------------------


async def apply_announce(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """A remote reblog of a status we have or can fetch: a reblog row of the
    actor, its author notified.  Only public and unlisted statuses the actor
    may see can be reblogged."""
    announce_id = _activity_id(activity, actor)
    object_id = id_of(activity.get("object"))
    if announce_id is None or object_id is None:
        raise Dropped("no id of its actor's host, or no object")
    status_id = await resolve_object(rt, object_id)
    if status_id is None:
        raise Dropped("unknown object")
    if not await rt.db.run_interaction(
        "remote announce", _announce_txn, status_id, actor, announce_id
    ):
        raise Dropped("not a status its actor may reblog")


async def resolve_object(rt: Runtime, ap_id: str) -> int | None:
    """The id of the status ``ap_id`` names: one we have, else the post
    fetched from its server (signed by the instance actor), which must be
    on the host of its id and by an actor of that host, stored as a Create
    stores one.  None when there is no such post to be had (logged)."""
    base_url = rt.config.server.base_url
    if http_url(ap_id) is None:
        return None
    found = await rt.db.run_interaction("find object", _find_id_txn, ap_id, base_url)
    if found is not None or same_host(ap_id, base_url):
        return found
    try:
        document = await rt.fetcher.get_json(ap_id, signer=await signing_key(rt, None))
        fetched_id = http_url(document.get("id"))
        author_id = id_of(document.get("attributedTo"))
        if fetched_id is None or author_id is None or not same_host(fetched_id, ap_id):
            raise ValueError("not an object of its id's host")
        author = await resolve_actor(rt, author_id)
    except (FetchError, ActorNotFound, ValueError) as e:
        log.info("could not resolve {ap_id}: {why}", ap_id=ap_id, why=e)
        return None
    note = parse_note(document, author.ap_id)
    if note is None:
        log.info("could not resolve {ap_id}: not a post of its author", ap_id=ap_id)
        return None
    return await rt.db.run_interaction(
        "store fetched post", store_note_txn, base_url, note, author, None, _now(rt)
    )


async def _find_id_txn(txn: Txn, ap_id: str, base_url: str) -> int | None:
    found = await find_txn(txn, ap_id, base_url)
    return None if found is None else found.id


async def find_by_url(rt: Runtime, url: str, *, resolve: bool) -> int | None:
    """The post a search for ``url`` names: its Note's id or its page, of
    one of ours (``/objects/<uuid>``, ``/notice/<id>``) or of a stored
    remote post; else, with ``resolve``, fetched from its server (which
    answers ActivityPub JSON at either, asked for it) and stored as a
    Create stores one.  None when it names no post (not a Note, an
    unreachable server, a refused fetch)."""
    if http_url(url) is None:
        return None
    base_url = rt.config.server.base_url
    found = await rt.db.run_interaction("status by url", _by_url_txn, url, base_url)
    if found is not None or not resolve or same_host(url, base_url):
        return found
    return await resolve_object(rt, url)


async def _by_url_txn(txn: Txn, url: str, base_url: str) -> int | None:
    found = await find_txn(txn, url, base_url)
    if found is None:
        notice = url.removeprefix(base_url.rstrip("/") + "/notice/")
        if notice != url:
            wanted = parse_id(notice)
            found = None if wanted is None else await store.get_status_txn(txn, wanted)
        else:
            found = await store.get_by_url_txn(txn, url)
    return None if found is None or found.reblog_of_id is not None else found.id


async def _announce_txn(txn: Txn, status_id: int, actor: User, announce_id: str) -> bool:
    if await store.get_by_ap_id_txn(txn, announce_id) is not None:
        return True
    status = await store.get_status_txn(txn, status_id)
    original = None if status is None else await _seen_by_txn(txn, status, actor.id)
    if original is None or original.visibility not in PUBLIC_VISIBILITIES:
        return False
    _, created = await store.insert_reblog_txn(txn, actor.id, original, ap_id=announce_id)
    if created:
        await notifications.on_reblog_txn(txn, actor.id, original.id)
    return True


async def apply_undo_announce(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """The actor's reblog taken back, named by its Announce's id or by the
    Announce embedded with its object."""
    await rt.db.run_interaction(
        "remote unreblog",
        _undo_announce_txn,
        activity.get("object"),
        actor,
        rt.config.server.base_url,
    )


async def _undo_announce_txn(txn: Txn, announce: Any, actor: User, base_url: str) -> None:
    announce_id = id_of(announce)
    reblog = None if announce_id is None else await store.get_by_ap_id_txn(txn, announce_id)
    if reblog is not None and reblog.account_id == actor.id and reblog.reblog_of_id is not None:
        await store.delete_status_txn(txn, reblog.id)
        return
    original = await _embedded_object_txn(txn, announce, base_url)
    if original is not None:
        await store.delete_reblog_txn(txn, actor.id, original.id)


async def _embedded_object_txn(txn: Txn, activity: Any, base_url: str) -> Status | None:
    """The status an embedded activity (the object of an Undo) is about."""
    target = id_of(activity.get("object")) if isinstance(activity, dict) else None
    return None if target is None else await find_txn(txn, target, base_url)


# -- Like ------------------------------------------------------------------------------


async def apply_like(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """A remote favourite of a status the actor may see: a favourites row,
    its author notified."""
    like_id = _activity_id(activity, actor)
    object_id = id_of(activity.get("object"))
    if like_id is None or object_id is None:
        raise Dropped("no id of its actor's host, or no object")
    if not await rt.db.run_interaction(
        "remote like", _like_txn, object_id, actor, like_id, rt.config.server.base_url
    ):
        raise Dropped("not a status its actor may see")


async def _like_txn(txn: Txn, object_id: str, actor: User, like_id: str, base_url: str) -> bool:
    found = await find_txn(txn, object_id, base_url)
    status = None if found is None else await _seen_by_txn(txn, found, actor.id)
    if status is None:
        return False
    if await favourites_store.insert_favourite_txn(txn, actor.id, status.id, ap_id=like_id):
        await notifications.on_favourite_txn(txn, actor.id, status.id)
    return True


async def apply_undo_like(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """The actor's favourite taken back, named by its Like's id or by the
    Like embedded with its object."""
    await rt.db.run_interaction(
        "remote unlike", _undo_like_txn, activity.get("object"), actor, rt.config.server.base_url
    )


async def _undo_like_txn(txn: Txn, like: Any, actor: User, base_url: str) -> None:
    like_id = id_of(like)
    if like_id is not None and await favourites_store.delete_by_ap_id_txn(txn, actor.id, like_id):
        return
    status = await _embedded_object_txn(txn, like, base_url)
    if status is not None:
        await favourites_store.delete_favourite_txn(txn, actor.id, status.id)
