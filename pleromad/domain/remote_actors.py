"""Remote accounts: finding an actor by id, by ``nick@host`` or by key id,
and keeping what we know of it fresh.

An actor document is fetched signed by the instance actor (servers in
"authorized fetch" mode refuse anonymous fetches), checked, and stored as a
``users`` row (local = false, nickname ``preferredUsername@host``) plus its
``remote_actors`` row (addresses, public key, the document).  It is fetched
again when the copy is older than :data:`STALE_AFTER`; when that fetch
fails, the copy we have is used.  A stale account that is only shown is
refreshed by a job (``federation.refresh_actor``, one waiting per actor), so that
showing it never waits on its server.

The counts an Account shows for a remote account are those its server
publishes: the ``totalItems`` of the actor's followers, following and
outbox collections, fetched after the actor is stored (a collection that
is missing, hidden or fails counts 0 and never stops the actor's storage).

What a document must be to become an account: an actor type
(:data:`ACTOR_TYPES`) whose id is on the host it was fetched from, with an
inbox, a sane ``preferredUsername`` and a ``publicKey`` whose owner is the
actor itself.  Names are plain text, bios sanitized HTML (they are written
by strangers), pictures the remote addresses (nothing is downloaded).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urldefrag, urlsplit

from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger

from pleromad.domain import actor_keys, lifecycle
from pleromad.domain.activities import Dropped, object_id
from pleromad.domain.content import sanitize_html, sanitize_text
from pleromad.federation.fetch import FetchError, Unreachable
from pleromad.jobs import GiveUp, Handler
from pleromad.model import User
from pleromad.store import remote_actors as store
from pleromad.store import users
from pleromad.store.remote_actors import STALE_AFTER, ActorRecord, Known

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

log = Logger()

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
# A key that failed to verify is fetched again only if our copy is older
# than this: a stream of forged signatures must not become a stream of fetches.
KEY_REFRESH_AFTER = 60
# What Mastodon, Pleroma, Misskey and GoToSocial allow in a username.
_USERNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,98}[A-Za-z0-9_])?$")
# The `self` link types of a WebFinger answer that name an actor document.
_ACTOR_LINK_TYPES = frozenset(
    {
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    }
)


class ActorNotFound(Exception):
    """The actor cannot be resolved: the message says why.  ``temporary``
    when trying again later may succeed (its server is unreachable)."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


# -- addresses -----------------------------------------------------------------


def authority(url: str) -> str | None:
    """The host of an http(s) ``url``, lower-cased, with its port when it
    names one; None for anything else (other schemes, user info, no host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def our_host(rt: Runtime) -> str:
    host = authority(rt.config.server.base_url)
    assert host is not None, "base_url is checked at start"
    return host


def _acceptable_id(rt: Runtime, url: str) -> str | None:
    """The host of a remote actor or object id we would fetch: https, or
    http when our own base_url is (tests, closed networks)."""
    scheme = urlsplit(url).scheme
    if scheme == "http" and not rt.config.server.base_url.startswith("http:"):
        return None
    return authority(url)


# -- resolving ---------------------------------------------------------------------


async def resolve_actor(rt: Runtime, actor_id: str, *, refresh: bool = False) -> User:
    """The account whose actor id is ``actor_id``: ours, the stored copy
    while it is fresh (unless ``refresh``), else fetched and stored.
    Raises ActorNotFound."""
    host = _acceptable_id(rt, actor_id)
    if host is None:
        raise ActorNotFound(f"not an actor id: {actor_id!r}")
    known = await rt.db.run_interaction("actor by id", store.get_by_ap_id_txn, actor_id)
    if host == our_host(rt):
        if known is None or not known.user.local:
            raise ActorNotFound(f"no local account {actor_id}")
        return known.user
    if known is not None and (known.user.deleted or known.user.local):
        return known.user
    if known is not None and not refresh and _fresh(rt, known, STALE_AFTER):
        return known.user
    try:
        document = await _fetch_actor(rt, actor_id)
    except ActorNotFound as e:
        if known is None or known.actor is None:
            raise
        log.info("using the stored copy of {actor}: {why}", actor=actor_id, why=e)
        return known.user
    return await store_actor(rt, document, host)


async def resolve_acct(rt: Runtime, acct: str) -> User:
    """The account ``nick@host`` (or ``@nick@host``) names: ours, a stored
    fresh copy, or found by WebFinger and fetched.  Raises ActorNotFound."""
    nick, _, host = acct.strip().removeprefix("@").rpartition("@")
    host = host.lower()
    if not nick or not host or authority(f"http://{host}") != host:
        raise ActorNotFound(f"not an address: {acct!r}")
    if host == our_host(rt):
        user = await rt.db.run_interaction(
            "account by nickname", users.get_user_by_nickname_txn, nick
        )
        if user is None or not user.local:
            raise ActorNotFound(f"no local account {nick}")
        return user
    known = await rt.db.run_interaction(
        "actor by nickname", store.get_remote_by_nickname_txn, f"{nick}@{host}"
    )
    if known is not None and _fresh(rt, known, STALE_AFTER):
        return known.user
    scheme = urlsplit(rt.config.server.base_url).scheme
    resource = quote(f"acct:{nick}@{host}", safe=":@")
    try:
        with _fetching(rt, host):
            jrd = await rt.fetcher.get_jrd(
                f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
            )
    except ActorNotFound:
        if known is None:
            raise
        return await resolve_actor(rt, known.user.ap_id)
    href = _self_link(jrd)
    if href is None:
        raise ActorNotFound(f"no ActivityPub actor in the WebFinger answer for {acct}")
    return await resolve_actor(rt, href, refresh=True)


async def find_account(rt: Runtime, text: str, *, resolve: bool) -> User | None:
    """The account a search or lookup for ``text`` names when it is an
    address — ``nick@host``, ``@nick@host`` or an actor URL — the stored
    copy, or with ``resolve`` found (WebFinger, then the actor fetched) and
    stored; None when ``text`` is no address or names no account.  Only a
    signed-in reader may make us resolve: an anonymous one could otherwise
    send us fetching anywhere."""
    text = text.strip()
    is_url = text.startswith(("https://", "http://"))
    if not is_url and "@" not in text.removeprefix("@"):
        return None
    try:
        if resolve:
            return await (resolve_actor(rt, text) if is_url else resolve_acct(rt, text))
    except ActorNotFound as e:
        log.info("{text!r} resolves to no account: {why}", text=text, why=e)
        return None
    if is_url:
        known = await rt.db.run_interaction("actor by id", store.get_by_ap_id_txn, text)
    else:
        known = await rt.db.run_interaction(
            "actor by nickname", store.get_remote_by_nickname_txn, text.removeprefix("@")
        )
    if known is None:
        return None
    await queue_refreshes(rt, [known.user.id])
    return known.user


async def actor_for_key(rt: Runtime, key_id: str, *, refresh: bool = False) -> tuple[User, str]:
    """The remote account that owns the public key ``key_id``, and the key
    (PEM): the stored copy, or the key's actor fetched.  ``refresh`` fetches
    it again (a signature that failed may be by a rotated key), unless our
    copy is only seconds old.  Raises ActorNotFound."""
    known = await rt.db.run_interaction("actor by key", store.get_by_key_id_txn, key_id)
    if (
        known is not None
        and known.actor is not None
        and (not refresh or known.user.deleted or _fresh(rt, known, KEY_REFRESH_AFTER))
    ):
        return known.user, known.actor.public_key_pem
    owner_id, _ = urldefrag(key_id)
    user = await resolve_actor(rt, owner_id, refresh=True)
    found = await rt.db.run_interaction("actor by key", store.get_by_key_id_txn, key_id)
    if found is None or found.actor is None or found.user.id != user.id:
        raise ActorNotFound(f"{key_id} is not the key of {user.ap_id}")
    return found.user, found.actor.public_key_pem


async def store_actor(rt: Runtime, document: dict[str, Any], host: str) -> User:
    """Create or refresh the account an actor ``document`` fetched from (or
    sent by) ``host`` describes.  Raises ActorNotFound when it is not a
    usable actor."""
    record = actor_record(document, host, rt.config.instance.user_name_length)
    known = await rt.db.run_interaction("actor by id", store.get_by_ap_id_txn, record.ap_id)
    if known is not None and (known.user.local or known.user.deleted):
        return known.user
    user = await rt.db.run_interaction(
        "store remote actor", store.upsert_txn, record, rt.clock.seconds()
    )
    await _store_counts(rt, user, record)
    return user


async def _store_counts(rt: Runtime, user: User, record: ActorRecord) -> None:
    """Fetch the three collections' ``totalItems`` at once and keep them."""
    totals = await gatherResults(
        [
            Deferred.fromCoroutine(_collection_total(rt, url, record.host))
            for url in (record.followers_url, record.following_url, record.outbox)
        ]
    )
    await rt.db.run_interaction("store actor counts", store.set_counts_txn, user.id, *totals)


async def _collection_total(rt: Runtime, url: str | None, host: str) -> int:
    """The ``totalItems`` of the collection at ``url`` on the actor's
    ``host``; 0 when there is none, it hides its size, or it cannot be had."""
    if url is None or _acceptable_id(rt, url) != host:
        return 0
    try:
        signer = await actor_keys.signing_key(rt, None)
        with _fetching(rt, url):
            document = await rt.fetcher.get_json(url, signer=signer)
    except ActorNotFound as e:
        log.info("no count from {url}: {why}", url=url, why=e)
        return 0
    total = document.get("totalItems")
    # bool is an int; a count past int4 is no count.
    if type(total) is not int or not 0 <= total < 2**31:
        return 0
    return total


async def queue_refreshes(rt: Runtime, user_ids: Sequence[int]) -> None:
    """Queue a refresh of each of ``user_ids`` that is a remote account
    fetched more than :data:`STALE_AFTER` ago (one waiting job per account)."""
    await rt.db.run_interaction(
        "queue actor refreshes",
        store.queue_refreshes_txn,
        user_ids,
        rt.clock.seconds() - STALE_AFTER,
    )


async def refresh(rt: Runtime, user_id: int) -> None:
    """Fetch the stale account ``user_id`` again, with its counts; a copy
    made fresh meanwhile (an Update, a resolve) is left alone.  The old copy
    stays when the fetch fails; an unreachable server is tried again with
    the runner's backoff, and no other refresh of the account is queued
    meanwhile, so showing it often does not become fetching it often."""
    known = await rt.db.run_interaction("actor by user id", store.get_by_user_id_txn, user_id)
    if known is None or known.user.local or known.user.deleted or _fresh(rt, known, STALE_AFTER):
        return
    host = _acceptable_id(rt, known.user.ap_id)
    try:
        if host is None:
            raise ActorNotFound(f"not an actor id: {known.user.ap_id!r}")
        await store_actor(rt, await _fetch_actor(rt, known.user.ap_id), host)
    except ActorNotFound as e:
        if e.temporary:
            raise
        raise GiveUp(str(e)) from None


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def refresh_job(payload: Mapping[str, Any]) -> None:
        await refresh(rt, int(payload["user_id"]))

    return {store.REFRESH_JOB: refresh_job}


def _fresh(rt: Runtime, known: Known, seconds: float) -> bool:
    actor = known.actor
    return actor is not None and rt.clock.seconds() - actor.fetched_at.timestamp() < seconds


async def _fetch_actor(rt: Runtime, url: str) -> dict[str, Any]:
    """The actor document at ``url``, fetched by the instance actor (servers
    in "authorized fetch" mode refuse anonymous fetches); a key document
    (older Pleroma, GoToSocial) leads to its owner's."""
    signer = await actor_keys.signing_key(rt, None)
    with _fetching(rt, url):
        document = await rt.fetcher.get_json(url, signer=signer)
    owner = document.get("owner")
    if document.get("type") not in ACTOR_TYPES and isinstance(owner, str) and owner != url:
        if authority(owner) != authority(url):
            raise ActorNotFound(f"the key {url} names an owner on another host")
        with _fetching(rt, owner):
            document = await rt.fetcher.get_json(owner, signer=signer)
    return document


@contextmanager
def _fetching(rt: Runtime, url: str) -> Iterator[None]:
    """A fetch of ``url``, its failure as ActorNotFound; none at all
    while federation is off."""
    if not rt.config.federation.enabled:
        raise ActorNotFound("federation is disabled")
    try:
        yield
    except FetchError as e:
        raise ActorNotFound(f"{url}: {e}", temporary=isinstance(e, Unreachable)) from None


def _self_link(jrd: dict[str, Any]) -> str | None:
    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and link.get("type") in _ACTOR_LINK_TYPES
            and isinstance(link.get("href"), str)
        ):
            href: str = link["href"]
            return href
    return None


# -- Update and Delete of an actor ------------------------------------------------------


async def apply_update_person(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """An actor's new document: stored as sent (it is signed by the actor,
    on its host), or fetched again when only its id is sent."""
    obj = activity.get("object")
    if object_id(obj) != actor.ap_id:
        raise Dropped("an actor may only update itself")
    try:
        if isinstance(obj, dict):
            await store_actor(rt, obj, authority(actor.ap_id) or "")
        else:
            await resolve_actor(rt, actor.ap_id, refresh=True)
    except ActorNotFound as e:
        raise Dropped(str(e)) from None


async def apply_delete_person(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """An actor deleted itself: its account is deleted as a local one is
    (a tombstone row; its statuses, follows and notifications removed by
    the deletion job)."""
    if object_id(activity.get("object")) != actor.ap_id:
        raise Dropped("an actor may only delete itself")
    await lifecycle.delete_account(rt, actor.id)


# -- what a document must be ----------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    key_id: str
    pem: str


def clean_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document as it is kept: profile fields (``PropertyValue``
    attachments) written by strangers go through the one HTML policy, names
    as text, values as HTML, so every later reader may show them as kept."""
    attachments = document.get("attachment")
    if not isinstance(attachments, list):
        return document
    cleaned = []
    for item in attachments:
        if isinstance(item, dict) and item.get("type") == "PropertyValue":
            name, value = item.get("name"), item.get("value")
            item = {
                **item,
                "name": sanitize_text(name) if isinstance(name, str) else name,
                "value": sanitize_html(value) if isinstance(value, str) else value,
            }
        cleaned.append(item)
    return {**document, "attachment": cleaned}


def actor_record(document: dict[str, Any], host: str, name_limit: int) -> ActorRecord:
    """The rows an actor document fetched from ``host`` becomes, or
    ActorNotFound saying what is wrong with it."""
    actor_id = document.get("id")
    if not isinstance(actor_id, str) or authority(actor_id) != host:
        raise ActorNotFound(f"an actor document from {host} with the id {actor_id!r}")
    if document.get("type") not in ACTOR_TYPES:
        raise ActorNotFound(f"{actor_id} is not an actor ({document.get('type')!r})")
    inbox = _url(document.get("inbox"))
    if inbox is None:
        raise ActorNotFound(f"{actor_id} has no inbox")
    username = document.get("preferredUsername")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise ActorNotFound(f"{actor_id} has no usable preferredUsername")
    key = _public_key(document, actor_id, host)
    endpoints = document.get("endpoints")
    summary = document.get("summary")
    summary = summary if isinstance(summary, str) else ""
    return ActorRecord(
        ap_id=actor_id,
        host=host,
        nickname=f"{username}@{host}",
        name=_plain(document.get("name"))[:name_limit] or None,
        bio=_plain(summary),
        bio_html=sanitize_html(summary),
        locked=document.get("manuallyApprovesFollowers") is True,
        avatar=_image(document.get("icon")),
        banner=_image(document.get("image")),
        inbox=inbox,
        shared_inbox=_url(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None,
        outbox=_url(document.get("outbox")),
        followers_url=_url(document.get("followers")),
        following_url=_url(document.get("following")),
        key_id=key.key_id,
        public_key_pem=key.pem,
        document=clean_document(document),
    )


def _public_key(document: dict[str, Any], actor_id: str, host: str) -> _Key:
    key = document.get("publicKey")
    if isinstance(key, list) and key:
        key = key[0]
    if not isinstance(key, dict):
        raise ActorNotFound(f"{actor_id} has no public key")
    key_id, owner, pem = key.get("id"), key.get("owner"), key.get("publicKeyPem")
    if owner != actor_id:
        raise ActorNotFound(f"the key of {actor_id} is owned by {owner!r}")
    if not isinstance(key_id, str) or authority(key_id) != host or not isinstance(pem, str):
        raise ActorNotFound(f"{actor_id} has no usable public key")
    return _Key(key_id, pem)


def _url(value: Any) -> str | None:
    """An http(s) address, or None."""
    return value if isinstance(value, str) and authority(value) is not None else None


def _image(value: Any) -> dict[str, Any] | None:
    """An ``icon``/``image`` as the Image users.avatar and banner hold
    (its first address when it has several)."""
    if isinstance(value, list):
        value = value[0] if value else None
    url = value.get("url") if isinstance(value, dict) else value
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href")
    href = _url(url)
    return None if href is None else {"type": "Image", "url": href}


def _plain(value: Any) -> str:
    """Text that may carry markup, as plain text (tags dropped, entities read)."""
    return html.unescape(sanitize_text(value)).strip() if isinstance(value, str) else ""
