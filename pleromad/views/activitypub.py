"""ActivityPub documents: actors, Notes, activities and collections.

Pure functions of plain values, so that the GET routes, outgoing delivery
and (later) the inbox's answers build the same shapes in one place.  The
shapes are Pleroma's and Mastodon's: an actor's collections hang off its
id, a local Note is ``<base_url>/objects/<uuid>`` and its Create
``<base_url>/activities/<uuid>``; addressing follows Mastodon's rules per
visibility (:func:`addressing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pleromad.model import Loaded, Media, Shown, Status, User
from pleromad.views.dates import masto_date
from pleromad.views.images import image_url

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
INSTANCE_ACTOR_PATH = "/internal/fetch"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
# The terms of Pleroma's litepub context (and Mastodon's extensions) that
# these documents use, inline: a reader needs no third document to expand them.
LITEPUB_TERMS: dict[str, Any] = {
    "litepub": "http://litepub.social/ns#",
    "ostatus": "http://ostatus.org#",
    "schema": "http://schema.org#",
    "toot": "http://joinmastodon.org/ns#",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "Emoji": "toot:Emoji",
    "discoverable": "toot:discoverable",
    "blurhash": "toot:blurhash",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "conversation": {"@id": "ostatus:conversation", "@type": "@id"},
    "directMessage": "litepub:directMessage",
}
# No default "@language" (Pleroma adds "und"): under it a JSON-LD reader takes
# every untyped string, publicKeyPem included, for language-tagged text, and
# bovine then finds no PEM string in the key (tests/test_federation_peers.py).
AP_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, LITEPUB_TERMS]

# Entries per page of a collection.
PAGE_SIZE = 10
# What an emoji tag says it was last changed (Pleroma's constant).
EMOJI_UPDATED = "1970-01-01T00:00:00Z"


def instance_actor_id(base_url: str) -> str:
    """The instance actor's id: it signs the server's own fetches."""
    return base_url + INSTANCE_ACTOR_PATH


def key_id(actor_id: str) -> str:
    """The id of an actor's one key, as Mastodon and Pleroma name it."""
    return actor_id + "#main-key"


def with_context(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as a top-level JSON-LD document."""
    return {"@context": AP_CONTEXT, **document}


def ap_date(when: datetime) -> str:
    return masto_date(when)


# -- addresses ---------------------------------------------------------------


def followers_url(actor_id: str) -> str:
    return f"{actor_id}/followers"


def note_id(status: Status, base_url: str) -> str:
    """The Note's id: a remote status keeps its own; a local one is
    ``<base_url>/objects/<object_uuid>``."""
    return status.ap_id or f"{base_url}/objects/{status.object_uuid}"


def activity_id(status: Status, base_url: str) -> str:
    """The id of the status' Create (or, for a reblog, its Announce)."""
    return status.activity_ap_id or f"{base_url}/activities/{status.activity_uuid}"


def notice_url(status: Status, base_url: str) -> str:
    """The page people follow: a remote status' own (its id when it named
    none), else ``/notice/<id>``."""
    return status.url or status.ap_id or f"{base_url}/notice/{status.id}"


def context_id(status: Status, base_url: str) -> str:
    """The thread a status belongs to: the context a remote status (or the
    remote status a local one answers) named, else our own for its conversation."""
    return status.context or f"{base_url}/contexts/{status.conversation_id}"


@dataclass(frozen=True)
class Addressing:
    to: list[str]
    cc: list[str]


def addressing(visibility: str, actor_id: str, mentioned: Sequence[str]) -> Addressing:
    """Mastodon's ``to``/``cc`` for a status: public to Public (cc followers
    and mentions), unlisted to followers (cc Public and mentions), private
    to followers and mentions, direct to the mentions alone."""
    followers = followers_url(actor_id)
    mentions = list(dict.fromkeys(mentioned))
    if visibility == "public":
        return Addressing([AS_PUBLIC], [followers, *mentions])
    if visibility == "unlisted":
        return Addressing([followers], [AS_PUBLIC, *mentions])
    if visibility == "private":
        return Addressing([followers, *mentions], [])
    return Addressing(mentions, [])


# -- actors ----------------------------------------------------------------------


def emoji_tag(shortcode: str, url: str) -> dict[str, Any]:
    return {
        "type": "Emoji",
        "id": url,
        "name": f":{shortcode}:",
        "icon": {"type": "Image", "url": url},
        "updated": EMOJI_UPDATED,
    }


def _public_key(actor_id: str, public_key_pem: str) -> dict[str, str]:
    return {"id": key_id(actor_id), "owner": actor_id, "publicKeyPem": public_key_pem}


def render_person(
    user: User,
    *,
    base_url: str,
    public_key_pem: str,
    emoji: Iterable[tuple[str, str]] = (),
    fields: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A local account as its ``Person``: ``emoji`` are the custom emoji
    (shortcode, URL) its name and bio use, ``fields`` its profile fields
    (name, HTML value).  Pictures appear only when the account set them."""
    actor = user.ap_id
    person: dict[str, Any] = {
        "id": actor,
        "type": "Person",
        "following": f"{actor}/following",
        "followers": followers_url(actor),
        "inbox": f"{actor}/inbox",
        "outbox": f"{actor}/outbox",
        "preferredUsername": user.nickname,
        "name": user.display_name,
        "summary": user.bio_html,
        "url": actor,
        "published": ap_date(user.created_at),
        "manuallyApprovesFollowers": user.locked,
        "discoverable": False,
        "publicKey": _public_key(actor, public_key_pem),
        "endpoints": {
            "sharedInbox": f"{base_url}/inbox",
            "oauthAuthorizationEndpoint": f"{base_url}/oauth/authorize",
            "oauthRegistrationEndpoint": f"{base_url}/api/v1/apps",
            "oauthTokenEndpoint": f"{base_url}/oauth/token",
        },
        "attachment": [
            {"type": "PropertyValue", "name": name, "value": value} for name, value in fields
        ],
        "tag": [emoji_tag(code, url) for code, url in emoji],
    }
    for key, stored in (("icon", user.avatar), ("image", user.banner)):
        url = image_url(stored)
        if url is not None:
            person[key] = {"type": "Image", "url": url}
    return with_context(person)


# The instance actor's preferredUsername (Pleroma's), so WebFinger finds it.
INSTANCE_ACTOR_NICKNAME = "internal.fetch"


def render_instance_actor(*, base_url: str, public_key_pem: str) -> dict[str, Any]:
    """The ``Application`` that signs the server's own fetches; it has a
    ``preferredUsername`` so that servers checking key owners by WebFinger
    (Mastodon) find it."""
    actor = instance_actor_id(base_url)
    return with_context(
        {
            "id": actor,
            "type": "Application",
            "preferredUsername": INSTANCE_ACTOR_NICKNAME,
            "name": "Pleroma",
            "summary": "An internal service actor for this instance. No user-serviceable parts inside.",
            "url": actor,
            # It follows no one and is followed by no one: the shared inbox is its own.
            "inbox": f"{base_url}/inbox",
            "endpoints": {"sharedInbox": f"{base_url}/inbox"},
            "manuallyApprovesFollowers": False,
            "publicKey": _public_key(actor, public_key_pem),
            "invisible": True,
        }
    )


# -- statuses --------------------------------------------------------------------


@dataclass(frozen=True)
class NoteParts:
    """What a Note says besides its status row: the accounts and ids around it."""

    author: User
    mentioned: Sequence[User]
    tags: Sequence[str]
    emojis: Sequence[tuple[str, str]]
    media: Sequence[Media]
    # The id of the Note replied to, when the status is a reply.
    in_reply_to: str | None


def note_parts(
    loaded: Loaded, shown: Shown, parents: Mapping[int, Status], base_url: str
) -> NoteParts:
    """What :func:`render_note` needs of a post of ``loaded`` besides its row;
    ``parents`` holds the status it replies to."""
    status = shown.status
    people = loaded.users
    parent = parents.get(status.in_reply_to_id or 0)
    return NoteParts(
        author=people[status.account_id],
        mentioned=[people[i] for i in shown.mention_ids if i in people and not people[i].deleted],
        tags=shown.tags,
        emojis=shown.emojis,
        media=[loaded.media[i] for i in shown.media_ids if i in loaded.media],
        in_reply_to=None if parent is None else note_id(parent, base_url),
    )


def note_addressing(status: Status, parts: NoteParts) -> Addressing:
    return addressing(status.visibility, parts.author.ap_id, [u.ap_id for u in parts.mentioned])


def render_note(status: Status, parts: NoteParts, *, base_url: str) -> dict[str, Any]:
    """A post as its ``Note`` (no ``@context``: embed it, or :func:`with_context`);
    an edited one says when in ``updated``, as Mastodon's do."""
    address = note_addressing(status, parts)
    context = context_id(status, base_url)
    tags: list[dict[str, Any]] = [
        {"type": "Mention", "href": user.ap_id, "name": f"@{user.nickname}"}
        for user in parts.mentioned
    ]
    tags += [
        {"type": "Hashtag", "href": f"{base_url}/tags/{quote(tag)}", "name": f"#{tag}"}
        for tag in parts.tags
    ]
    tags += [emoji_tag(code, url) for code, url in parts.emojis]
    return {
        "id": note_id(status, base_url),
        "type": "Note",
        "attributedTo": parts.author.ap_id,
        "actor": parts.author.ap_id,
        "to": address.to,
        "cc": address.cc,
        "published": ap_date(status.created_at),
        "url": notice_url(status, base_url),
        "inReplyTo": parts.in_reply_to,
        "context": context,
        "conversation": context,
        "summary": status.spoiler_text,
        "content": status.content,
        "source": {"content": status.source, "mediaType": status.content_type},
        "sensitive": status.sensitive,
        "tag": tags,
        "attachment": [render_document(media) for media in parts.media],
        "directMessage": status.visibility == "direct",
    } | ({} if status.edited_at is None else {"updated": ap_date(status.edited_at)})


def render_document(media: Media) -> dict[str, Any]:
    """An attachment as a ``Document`` (``name`` is its description), with
    its blurhash and size when they are known."""
    document: dict[str, Any] = {
        "type": "Document",
        "mediaType": media.mime_type,
        "url": media.url,
        "name": media.description,
    }
    known = {"blurhash": media.blurhash, "width": media.width, "height": media.height}
    return document | {key: value for key, value in known.items() if value is not None}


def render_create(status: Status, parts: NoteParts, *, base_url: str) -> dict[str, Any]:
    """The ``Create`` of a post, its Note embedded, addressed as the Note."""
    note = render_note(status, parts, base_url=base_url)
    return with_context(
        {
            "id": activity_id(status, base_url),
            "type": "Create",
            "actor": parts.author.ap_id,
            "to": note["to"],
            "cc": note["cc"],
            "published": note["published"],
            "context": note["context"],
            "object": note,
        }
    )


def render_announce(
    reblog: Status, *, actor_id: str, original_id: str, original_author_id: str, base_url: str
) -> dict[str, Any]:
    """A reblog as its ``Announce`` of the original Note: public ones to
    Public, unlisted ones to followers; the original's author in ``cc``."""
    address = addressing(reblog.visibility, actor_id, [original_author_id])
    return with_context(
        {
            "id": activity_id(reblog, base_url),
            "type": "Announce",
            "actor": actor_id,
            "object": original_id,
            "to": address.to,
            "cc": address.cc,
            "published": ap_date(reblog.created_at),
            "context": context_id(reblog, base_url),
        }
    )


def tombstone(object_id: str, former_type: str = "Note") -> dict[str, Any]:
    return {"id": object_id, "type": "Tombstone", "formerType": former_type}


# -- other activities (builders for outgoing ones) ----------------------------------


def _activity(
    kind: str,
    id: str,
    actor: str,
    object: Any,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    return with_context(
        {"id": id, "type": kind, "actor": actor, "object": object, "to": list(to), "cc": list(cc)}
        | extra
    )


def _embedded(activity: Mapping[str, Any] | str) -> Any:
    """An activity put inside another: without its own ``@context``."""
    if isinstance(activity, str):
        return activity
    return {key: value for key, value in activity.items() if key != "@context"}


def build_follow(id: str, actor: str, followee: str) -> dict[str, Any]:
    return _activity("Follow", id, actor, followee, to=[followee])


def build_accept(id: str, actor: str, follow: Mapping[str, Any] | str, to: str) -> dict[str, Any]:
    """``actor`` accepts ``follow`` (the Follow activity, or its id) sent by ``to``."""
    return _activity("Accept", id, actor, _embedded(follow), to=[to])


def build_reject(id: str, actor: str, follow: Mapping[str, Any] | str, to: str) -> dict[str, Any]:
    return _activity("Reject", id, actor, _embedded(follow), to=[to])


def build_undo(
    id: str,
    actor: str,
    undone: Mapping[str, Any] | str,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
) -> dict[str, Any]:
    """Undo ``undone`` (the Follow, Like, Announce or Block, or its id)."""
    return _activity("Undo", id, actor, _embedded(undone), to, cc)


def build_like(id: str, actor: str, object_id: str, author_id: str) -> dict[str, Any]:
    return _activity("Like", id, actor, object_id, to=[author_id], cc=[followers_url(actor)])


def build_announce(
    id: str, actor: str, object_id: str, to: Sequence[str], cc: Sequence[str], published: str
) -> dict[str, Any]:
    return _activity("Announce", id, actor, object_id, to, cc, published=published)


def build_flag(id: str, actor: str, objects: Sequence[str], content: str) -> dict[str, Any]:
    """A report forwarded to the reported account's server: the account and
    its statuses, by the instance actor (the reporter stays unnamed)."""
    return _activity("Flag", id, actor, list(objects), content=content)


def build_block(id: str, actor: str, blocked: str) -> dict[str, Any]:
    return _activity("Block", id, actor, blocked, to=[blocked])


def build_delete(
    id: str, actor: str, object: Mapping[str, Any] | str, to: Sequence[str], cc: Sequence[str]
) -> dict[str, Any]:
    """Delete ``object``: a Tombstone (:func:`tombstone`), an actor id, or an object id."""
    return _activity("Delete", id, actor, _embedded(object), to, cc)


def build_update(
    id: str, actor: str, object: Mapping[str, Any], to: Sequence[str], cc: Sequence[str]
) -> dict[str, Any]:
    """Update ``object`` (an actor or a Note document), embedded without its context."""
    return _activity("Update", id, actor, _embedded(object), to, cc)


def render_delete_note(status: Status, parts: NoteParts, *, base_url: str) -> dict[str, Any]:
    """The ``Delete`` of a post, addressed as its Create was; its id is the
    Note's with ``#delete`` (Mastodon's), so sending it again is the same activity."""
    address = note_addressing(status, parts)
    object_id = note_id(status, base_url)
    return build_delete(
        f"{object_id}#delete", parts.author.ap_id, tombstone(object_id), address.to, address.cc
    )


# -- collections -------------------------------------------------------------------


def render_collection(
    id: str, *, total: int | None = None, first: str | None = None
) -> dict[str, Any]:
    """An ``OrderedCollection``: its size and the address of its first page
    (either may be left out: a hidden network shows only its size)."""
    collection: dict[str, Any] = {"id": id, "type": "OrderedCollection"}
    if total is not None:
        collection["totalItems"] = total
    if first is not None:
        collection["first"] = first
    return with_context(collection)


def render_collection_page(
    id: str, *, part_of: str, items: Sequence[Any], next: str | None
) -> dict[str, Any]:
    """One ``OrderedCollectionPage`` of ``part_of``; ``next`` when there are more."""
    page: dict[str, Any] = {
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": [_embedded(item) for item in items],
    }
    if next is not None:
        page["next"] = next
    return with_context(page)
