"""The ActivityPub documents this server serves: its actors, their
collections, and its statuses as Notes and activities.

Only local accounts and local statuses are served.  A deleted account's
actor is gone (410, so that other servers drop their copy); a deactivated
one, or one still awaiting its confirmation, is not found (404).  A status
is served to whoever may see it: anyone for public and unlisted ones, and
for private and direct ones only the signed fetch of an actor allowed to
see them (``viewer``); to everyone else it does not exist (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pleromad.db.pool import Txn
from pleromad.domain import actor_keys, publishing
from pleromad.domain.profile import visible_to
from pleromad.domain.statuses import status_id, used_emoji
from pleromad.errors import ApiError
from pleromad.model import Loaded, Shown, Status, User
from pleromad.store import loader, objects, relationships, users
from pleromad.store import statuses as statuses_store
from pleromad.views.activitypub import (
    PAGE_SIZE,
    activity_id,
    note_id,
    note_parts,
    render_announce,
    render_collection,
    render_collection_page,
    render_create,
    render_instance_actor,
    render_note,
    render_person,
    with_context,
)

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

# The collections of follows, by the name their path ends in.
FOLLOW_COLLECTIONS = ("followers", "following")


class NotFound(ApiError):
    status = 404

    def __init__(self) -> None:
        super().__init__("Not found")


class Gone(ApiError):
    status = 410

    def __init__(self) -> None:
        super().__init__("Gone")


@dataclass(frozen=True)
class PageRequest:
    """A collection's ``?page=...&max_id=...``: its first page, or the
    page of entries older than ``max_id``; ``page`` False: the collection."""

    page: bool = False
    max_id: int | None = None


def _viewer_id(viewer: User | None) -> int | None:
    return None if viewer is None else viewer.id


# -- actors ----------------------------------------------------------------------


async def local_actor(rt: Runtime, nickname: str) -> User:
    """The local account ``nickname`` as others may see it; Gone or NotFound."""
    user = await rt.db.run_interaction("actor", users.get_user_by_nickname_txn, nickname)
    if user is None or not user.local:
        raise NotFound()
    if user.deleted:
        raise Gone()
    if user.deactivated or not visible_to(user, None, rt.config):
        raise NotFound()
    return user


async def person(rt: Runtime, nickname: str) -> dict[str, Any]:
    """The ``Person`` of the local account ``nickname``, with its public key
    and the custom emoji its name and bio use."""
    return await _person(rt, await local_actor(rt, nickname))


async def send_profile_update(rt: Runtime, user: User) -> None:
    """Queue the Update of the changed account ``user``'s Person for its
    remote followers' servers (after the change committed: the document is
    rendered from it)."""
    if rt.config.federation.enabled:
        await rt.db.run_interaction(
            "profile update",
            publishing.on_profile_txn,
            rt.config,
            user,
            await _person(rt, user),
            rt.clock.seconds(),
        )


async def _person(rt: Runtime, user: User) -> dict[str, Any]:
    base_url = rt.config.server.base_url
    table = await rt.emoji.current()
    return render_person(
        user,
        base_url=base_url,
        public_key_pem=await actor_keys.public_key_pem(rt, user.id),
        emoji=used_emoji(table, base_url, user.display_name, user.bio),
    )


async def instance_actor(rt: Runtime) -> dict[str, Any]:
    return render_instance_actor(
        base_url=rt.config.server.base_url,
        public_key_pem=await actor_keys.public_key_pem(rt, None),
    )


async def follow_collection(
    rt: Runtime, nickname: str, kind: str, request: PageRequest
) -> dict[str, Any]:
    """The account's followers or following (``kind``) as an
    OrderedCollection of actor ids, newest first; only its size when the
    account hides that part of its network."""
    user = await local_actor(rt, nickname)
    return await rt.db.run_interaction(
        f"actor {kind}", _follow_collection_txn, rt.config.server.base_url, user, kind, request
    )


async def _follow_collection_txn(
    txn: Txn, base_url: str, user: User, kind: str, request: PageRequest
) -> dict[str, Any]:
    iri = f"{user.ap_id}/{kind}"
    counts, _ = await statuses_store.account_counts_txn(txn, [user.id])
    total = getattr(counts[user.id], kind)
    hidden = user.hide_followers if kind == "followers" else user.hide_follows
    if hidden:
        return render_collection(iri, total=total)
    if not request.page:
        return render_collection(iri, total=total, first=f"{iri}?page=true")
    listed = await relationships.list_accounts_txn(
        txn, kind, user.id, limit=PAGE_SIZE + 1, max_id=request.max_id
    )
    shown = listed[:PAGE_SIZE]
    more = len(listed) > PAGE_SIZE
    return render_collection_page(
        _page_id(iri, request),
        part_of=iri,
        items=[entry.user.ap_id for entry in shown],
        next=f"{iri}?page=true&max_id={shown[-1].cursor}" if more else None,
    )


def _page_id(iri: str, request: PageRequest) -> str:
    suffix = "" if request.max_id is None else f"&max_id={request.max_id}"
    return f"{iri}?page=true{suffix}"


async def outbox(rt: Runtime, nickname: str, request: PageRequest) -> dict[str, Any]:
    """The account's public and unlisted Creates and Announces, newest first."""
    user = await local_actor(rt, nickname)
    return await rt.db.run_interaction(
        "outbox", _outbox_txn, rt.config.server.base_url, user, request
    )


async def _outbox_txn(txn: Txn, base_url: str, user: User, request: PageRequest) -> dict[str, Any]:
    iri = f"{user.ap_id}/outbox"
    if not request.page:
        total = await objects.outbox_size_txn(txn, user.id)
        return render_collection(iri, total=total, first=f"{iri}?page=true")
    ids = await objects.outbox_txn(txn, user.id, request.max_id, PAGE_SIZE + 1)
    page = ids[:PAGE_SIZE]
    loaded = await loader.load_txn(txn, page, None)
    parents = await objects.parents_txn(txn, loaded)
    items = [_activity(loaded, loaded.statuses[i], parents, base_url) for i in loaded.order]
    return render_collection_page(
        _page_id(iri, request),
        part_of=iri,
        items=items,
        next=f"{iri}?page=true&max_id={page[-1]}" if len(ids) > PAGE_SIZE else None,
    )


# -- statuses --------------------------------------------------------------------


def _activity(
    loaded: Loaded, shown: Shown, parents: Mapping[int, Status], base_url: str
) -> dict[str, Any]:
    """A post's Create, or a reblog's Announce."""
    status = shown.status
    if status.reblog_of_id is None:
        return render_create(
            status, note_parts(loaded, shown, parents, base_url), base_url=base_url
        )
    original = loaded.statuses[status.reblog_of_id].status
    return render_announce(
        status,
        actor_id=loaded.users[status.account_id].ap_id,
        original_id=note_id(original, base_url),
        original_author_id=loaded.users[original.account_id].ap_id,
        base_url=base_url,
    )


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise NotFound() from None


async def note(rt: Runtime, object_uuid: str, viewer: User | None) -> dict[str, Any]:
    """The local post whose Note is ``object_uuid``, if ``viewer`` may see it."""
    return await rt.db.run_interaction(
        "note", _note_txn, rt.config.server.base_url, _uuid(object_uuid), _viewer_id(viewer)
    )


async def _note_txn(
    txn: Txn, base_url: str, object_uuid: str, viewer_id: int | None
) -> dict[str, Any]:
    found = await statuses_store.get_by_object_uuid_txn(txn, object_uuid)
    if found is None or found.reblog_of_id is not None:
        raise NotFound()
    loaded, parents = await _load_local_txn(txn, found, viewer_id)
    parts = note_parts(loaded, loaded.statuses[found.id], parents, base_url)
    return with_context(render_note(found, parts, base_url=base_url))


async def activity(rt: Runtime, activity_uuid: str, viewer: User | None) -> dict[str, Any]:
    """The Create of a local post, or the Announce of a local reblog."""
    return await rt.db.run_interaction(
        "activity",
        _activity_txn,
        rt.config.server.base_url,
        _uuid(activity_uuid),
        _viewer_id(viewer),
    )


async def _activity_txn(
    txn: Txn, base_url: str, activity_uuid: str, viewer_id: int | None
) -> dict[str, Any]:
    found = await objects.by_activity_uuid_txn(txn, activity_uuid)
    if found is None:
        raise NotFound()
    loaded, parents = await _load_local_txn(txn, found, viewer_id)
    return _activity(loaded, loaded.statuses[found.id], parents, base_url)


async def _load_local_txn(
    txn: Txn, found: Status, viewer_id: int | None
) -> tuple[Loaded, dict[int, Status]]:
    """``found`` (a local status) loaded for the viewer, and its parent; NotFound
    when the viewer may not see it."""
    loaded = await loader.load_txn(txn, [found.id], viewer_id)
    if not loaded.order or not loaded.users[found.account_id].local:
        raise NotFound()
    return loaded, await objects.parents_txn(txn, loaded)


async def notice_target(rt: Runtime, ref: str, viewer: User | None) -> str:
    """Where ``/notice/<id>`` sends ActivityPub clients: a post's Note, a
    reblog's Announce; NotFound for what ``viewer`` may not see."""
    wanted = status_id(ref)
    if wanted is None:
        raise NotFound()
    loaded = await rt.db.run_interaction("notice", loader.load_txn, [wanted], _viewer_id(viewer))
    if not loaded.order:
        raise NotFound()
    status = loaded.statuses[wanted].status
    base_url = rt.config.server.base_url
    if status.reblog_of_id is not None:
        return activity_id(status, base_url)
    return note_id(status, base_url)
