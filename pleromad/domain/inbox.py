"""Inboxes: what an activity POSTed to us must be, and applying it later.

Receiving (:func:`receive`) decides in the request whether an activity is
taken at all: federation on, a JSON object with ``id``, ``type`` and
``actor``, nobody of a blocked instance, a recipient that exists, signed by its own actor, and every id it claims on
its actor's host (Pleroma's containment; an actor cannot speak for objects
of another server).  What is taken is queued as a durable job
(:data:`INBOX_JOB`) in the transaction that records its id in
``seen_activities``, and the request is answered 202: an activity
delivered again (a retry, or to a personal and the shared inbox) is
answered the same and queued once.

The job applies the activity through :data:`APPLY`, keyed by its type and,
for Undo, Update and Delete, by its object's type (:func:`dispatch_key`).
An activity of a type nobody applies is logged and dropped; an applier
that decides not to apply one raises :class:`Dropped`.  Appliers must be
idempotent: a job cut short runs again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from pleromad.db.pool import Txn
from pleromad.domain import delivery, remote_actors, remote_relationships, remote_statuses, reports
from pleromad.domain.activities import Applier, Dropped, object_id
from pleromad.domain.remote_actors import authority
from pleromad.domain.signed_requests import Unsigned
from pleromad.errors import ApiError, BadRequest, Forbidden
from pleromad.federation.fetch import host_in, host_of
from pleromad.model import User
from pleromad.store import jobs, users
from pleromad.store import remote_actors as remote_actors_store
from pleromad.store import seen_activities as seen

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

log = Logger()

INBOX_JOB = "federation.inbox"

# How long a received activity's id is remembered: by then a replay of its
# request is outside the signature's Date window anyway.
SEEN_FOR = 2 * 24 * 3600
# Bodies larger than this are parsed off the reactor thread.
_THREAD_THRESHOLD = 64 * 1024

# Activities whose object is the actor's own (its post, its earlier
# activity, itself): that object's id must be on the actor's host too.
_OWN_OBJECT = frozenset({"Create", "Update", "Delete", "Undo"})
# Activities dispatched by their object's type as well.
_BY_OBJECT_TYPE = frozenset({"Undo", "Update", "Delete"})


class UnknownRecipient(ApiError):
    status = 404

    def __init__(self) -> None:
        super().__init__("Not found")


# -- dispatch ---------------------------------------------------------------------


def dispatch_key(activity_type: str, object_type: str | None = None) -> str:
    """The :data:`APPLY` key of an activity type, with its object's type
    for Undo, Update and Delete: ``"Follow"``, ``"Undo/Follow"``,
    ``"Delete/Person"``, ``"Delete/Tombstone"`` (a deleted object named by
    its id alone)."""
    return activity_type if object_type is None else f"{activity_type}/{object_type}"


# The object types a remote post may have.
_POST_TYPES = sorted(remote_statuses.NOTE_TYPES | remote_statuses.CONVERTED_TYPES)

# What applies each kind of activity, by :func:`dispatch_key`: the one place
# an applier is added.
APPLY: dict[str, Applier] = {
    "Follow": remote_relationships.apply_follow,
    "Accept": remote_relationships.apply_accept,
    "Reject": remote_relationships.apply_reject,
    "Block": remote_relationships.apply_block,
    "Undo/Follow": remote_relationships.apply_undo_follow,
    "Undo/Block": remote_relationships.apply_undo_block,
    "Update/Person": remote_actors.apply_update_person,
    "Delete/Person": remote_actors.apply_delete_person,
    "Create": remote_statuses.apply_create,
    "Announce": remote_statuses.apply_announce,
    "Like": remote_statuses.apply_like,
    "Undo/Announce": remote_statuses.apply_undo_announce,
    "Undo/Like": remote_statuses.apply_undo_like,
    "Flag": reports.apply_flag,
    "Delete/Tombstone": remote_statuses.apply_delete_object,
    **{f"Delete/{kind}": remote_statuses.apply_delete_object for kind in _POST_TYPES},
    **{f"Update/{kind}": remote_statuses.apply_update_note for kind in _POST_TYPES},
}


def _object_type(activity: Mapping[str, Any], actor_id: str) -> str | None:
    obj = activity.get("object")
    if activity["type"] not in _BY_OBJECT_TYPE:
        return None
    if isinstance(obj, dict):
        kind = obj.get("type")
        if kind in remote_actors.ACTOR_TYPES:
            return "Person"
        return kind if isinstance(kind, str) else None
    if obj == actor_id:
        return "Person"
    return "Tombstone" if activity["type"] == "Delete" and isinstance(obj, str) else None


def key_of(activity: Mapping[str, Any]) -> str:
    """The :data:`APPLY` key ``activity`` is dispatched by."""
    return dispatch_key(activity["type"], _object_type(activity, activity["actor"]))


# -- receiving --------------------------------------------------------------------


async def parse_activity(body: bytes) -> dict[str, Any]:
    """The activity a POSTed body holds: a JSON object with string ``id``,
    ``type`` and ``actor`` (an embedded actor counts by its id), that the
    database can hold; else BadRequest."""
    if len(body) > _THREAD_THRESHOLD:
        value = await deferToThread(_decode, body)
    else:
        value = _decode(body)
    if not isinstance(value, dict):
        raise BadRequest("An activity must be a JSON object")
    actor = value.get("actor")
    if isinstance(actor, dict):
        value["actor"] = actor = actor.get("id")
    for name, field in (("id", value.get("id")), ("type", value.get("type")), ("actor", actor)):
        if not isinstance(field, str) or not field:
            raise BadRequest(f"An activity needs an {name}")
    if authority(value["actor"]) is None:
        raise BadRequest("The actor must be an http(s) URL")
    return value


def _decode(body: bytes) -> Any:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("Malformed JSON body") from None
    if not _storable(value):
        raise BadRequest("Invalid characters in the activity")
    return value


def _storable(value: Any) -> bool:
    """Whether PostgreSQL text and jsonb can hold ``value``: no NUL and no
    unpaired surrogate (JSON escapes can carry both), keys included."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


async def receive(
    rt: Runtime, body: bytes, nickname: str | None, verify: Callable[[], Awaitable[User]]
) -> None:
    """Take the activity ``body`` POSTed to the shared inbox (``nickname``
    None) or to ``nickname``'s, ``verify`` giving the request's signer: in
    this order, 403 while federation is off, 400 for a body that is no
    activity, 403 from a blocked instance, 404 for an unknown recipient,
    401 for a bad signature or one not by the activity's actor, 400 for ids
    on another host; else it is queued (once)."""
    if not rt.config.federation.enabled:
        raise Forbidden("Federation is disabled")
    activity = await parse_activity(body)
    if is_blocked(rt, activity["actor"]):
        raise Forbidden("Instance blocked")
    if nickname is not None:
        await _check_recipient(rt, nickname)
    if await _ignorable(rt, activity):
        return
    signer = await verify()
    if signer.ap_id != activity["actor"]:
        raise Unsigned("The activity is not the signer's")
    check_origin(activity)
    await rt.db.run_interaction(
        "queue activity", _queue_txn, activity, signer.id, rt.clock.seconds()
    )
    await delivery.heard_from(rt, host_of(signer.ap_id))


async def _check_recipient(rt: Runtime, nickname: str) -> None:
    user = await rt.db.run_interaction("inbox recipient", users.get_user_by_nickname_txn, nickname)
    if user is None or not user.local or user.deleted:
        raise UnknownRecipient()


def is_blocked(rt: Runtime, url: str) -> bool:
    """Whether ``url`` is on an instance of ``[federation] blocked_instances``
    (or a subdomain of one)."""
    return host_in(host_of(url), rt.config.federation.blocked_instances)


async def _ignorable(rt: Runtime, activity: Mapping[str, Any]) -> bool:
    """Whether an activity can be acknowledged without even checking its
    signature: the Delete of an actor we never knew (its key is gone with
    it, as Mastodon reasons; fetching it would only find a 410)."""
    if activity["type"] != "Delete" or object_id(activity.get("object")) != activity["actor"]:
        return False
    known = await rt.db.run_interaction(
        "actor by id", remote_actors_store.get_by_ap_id_txn, activity["actor"]
    )
    return known is None


def check_origin(activity: Mapping[str, Any]) -> None:
    """Pleroma's containment: the activity's id, and the id of an object
    that is its actor's own, are on the actor's host."""
    host = authority(activity["actor"])
    if authority(activity["id"]) != host:
        raise BadRequest("The activity id is not on its actor's host")
    named = object_id(activity.get("object"))
    if activity["type"] in _OWN_OBJECT and named is not None and authority(named) != host:
        raise BadRequest("The object id is not on its actor's host")


async def _queue_txn(txn: Txn, activity: dict[str, Any], actor_id: int, now: float) -> None:
    if await seen.mark_txn(txn, activity["id"], now):
        await jobs.enqueue_txn(txn, INBOX_JOB, {"activity": activity, "actor_id": actor_id})


# -- applying ---------------------------------------------------------------------


async def apply(rt: Runtime, activity: dict[str, Any], actor_id: int) -> None:
    """Apply a received activity of the account ``actor_id`` (its verified
    signer), or log why it is dropped."""
    actor = await rt.db.run_interaction("activity actor", users.get_user_txn, actor_id)
    key = key_of(activity)
    try:
        if actor is None or actor.deleted:
            raise Dropped("its actor is gone")
        if is_blocked(rt, actor.ap_id):
            raise Dropped("its instance is blocked")
        applier = APPLY.get(key)
        if applier is None:
            raise Dropped("nothing applies it here")
        await applier(rt, activity, actor)
    except Dropped as e:
        log.info("dropped {key} {id}: {why}", key=key, id=activity["id"], why=e)


async def purge_seen(rt: Runtime) -> None:
    """Forget the ids of activities received more than :data:`SEEN_FOR` ago."""
    await rt.db.run_interaction(
        "purge seen activities", seen.purge_txn, rt.clock.seconds() - SEEN_FOR
    )


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def inbox_job(payload: Mapping[str, Any]) -> None:
        await apply(rt, dict(payload["activity"]), int(payload["actor_id"]))

    return {INBOX_JOB: inbox_job}
