"""ActivityPub documents: actors, their collections, Notes and activities
(pleromad.web.activitypub).

The schemas hold what pleromad always sends; ActivityPub documents are
open, so other keys are allowed."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    STRING,
    Operation,
    Response,
    Schema,
    array,
    enum,
    no_content,
    nullable,
    ref,
)

TAG = "ActivityPub"
AP = "application/activity+json"


def _document(kind: Schema, properties: dict[str, Schema], required: tuple[str, ...]) -> Schema:
    return {
        "type": "object",
        "required": ["@context", "id", "type", *required],
        "properties": {"@context": array({}), "id": STRING, "type": kind, **properties},
    }


_ADDRESSED: dict[str, Schema] = {"to": array(STRING), "cc": array(STRING), "actor": STRING}
_KEY: Schema = {
    "type": "object",
    "required": ["id", "owner", "publicKeyPem"],
    "properties": {"id": STRING, "owner": STRING, "publicKeyPem": STRING},
}
_IMAGE: Schema = {"type": "object", "required": ["type", "url"], "properties": {"url": STRING}}
_NOTE: Schema = {
    "type": "object",
    "required": [
        "id", "type", "attributedTo", "to", "cc", "published", "url", "inReplyTo", "context",
        "summary", "content", "sensitive", "tag", "attachment",
    ],
    "properties": {
        "id": STRING,
        "type": enum("Note"),
        "attributedTo": STRING,
        **_ADDRESSED,
        "published": STRING,
        "url": STRING,
        "inReplyTo": nullable(STRING),
        "context": STRING,
        "conversation": STRING,
        "summary": STRING,
        "content": STRING,
        "sensitive": BOOLEAN,
        "tag": array({"type": "object", "required": ["type", "name"]}),
        "attachment": array(
            {"type": "object", "required": ["type", "mediaType", "url", "name"]}
        ),
    },
}  # fmt: skip

SCHEMAS: dict[str, Schema] = {
    "Person": _document(
        enum("Person"),
        {
            "preferredUsername": STRING,
            "name": STRING,
            "summary": STRING,
            "inbox": STRING,
            "outbox": STRING,
            "followers": STRING,
            "following": STRING,
            "url": STRING,
            "manuallyApprovesFollowers": BOOLEAN,
            "discoverable": BOOLEAN,
            "publicKey": _KEY,
            "endpoints": {"type": "object", "required": ["sharedInbox"]},
            "attachment": array({"type": "object"}),
            "tag": array({"type": "object"}),
            "icon": _IMAGE,
            "image": _IMAGE,
        },
        (
            "preferredUsername",
            "name",
            "summary",
            "inbox",
            "outbox",
            "followers",
            "following",
            "url",
            "manuallyApprovesFollowers",
            "discoverable",
            "publicKey",
            "endpoints",
            "attachment",
            "tag",
        ),
    ),
    "Application": _document(
        enum("Application"),
        {"preferredUsername": STRING, "inbox": STRING, "publicKey": _KEY},
        ("preferredUsername", "inbox", "publicKey"),
    ),
    "Note": {**_NOTE, "required": ["@context", *_NOTE["required"]]},
    "Activity": _document(
        enum("Create", "Announce"),
        {**_ADDRESSED, "published": STRING, "object": {"anyOf": [STRING, _NOTE]}},
        ("actor", "to", "cc", "published", "object"),
    ),
    "OrderedCollection": _document(
        enum("OrderedCollection"),
        {"totalItems": {"type": "integer", "minimum": 0}, "first": STRING},
        (),
    ),
    "OrderedCollectionPage": _document(
        enum("OrderedCollectionPage"),
        {"partOf": STRING, "next": STRING, "orderedItems": array({})},
        ("partOf", "orderedItems"),
    ),
}

_PAGE: dict[str, Schema] = {
    "page": {**STRING, "description": "Present (any value): a page rather than the collection."},
    "max_id": {"type": "integer", "description": "A page of the entries older than this one."},
}
_COLLECTION = Response(
    "The collection (only its size when the account hides it), or one of its pages.",
    {"anyOf": [ref("OrderedCollection"), ref("OrderedCollectionPage")]},
    AP,
)
_ACTOR_ERRORS = {
    404: "No local account in use by that name (deactivated ones included).",
    410: "The account was deleted.",
}
_STATUS_ERRORS = {
    401: "A signed fetch whose HTTP Signature does not verify.",
    404: "No local status with that id, or one only a signed fetch by an actor allowed"
    " to see it may have.",
}


def _collection(summary: str) -> Operation:
    return Operation(summary, responses={200: _COLLECTION}, fields=_PAGE, errors=_ACTOR_ERRORS)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/users/{nickname}"): Operation(
        "A local account as its ActivityPub actor (Person).",
        responses={200: Response("The actor.", ref("Person"), AP)},
        errors=_ACTOR_ERRORS,
    ),
    ("GET", "/users/{nickname}/followers"): _collection("The account's followers' actor ids."),
    ("GET", "/users/{nickname}/following"): _collection("The actor ids the account follows."),
    ("GET", "/users/{nickname}/outbox"): _collection(
        "The account's public and unlisted Creates and Announces, newest first."
    ),
    ("GET", "/internal/fetch"): Operation(
        "The instance actor (Application), which signs the server's own fetches.",
        responses={200: Response("The actor.", ref("Application"), AP)},
    ),
    ("GET", "/objects/{uuid}"): Operation(
        "A local status as its Note.",
        responses={200: Response("The Note.", ref("Note"), AP)},
        errors=_STATUS_ERRORS,
    ),
    ("GET", "/activities/{uuid}"): Operation(
        "The Create of a local status, or the Announce of a local reblog.",
        responses={200: Response("The activity.", ref("Activity"), AP)},
        errors=_STATUS_ERRORS,
    ),
    ("GET", "/notice/{id}"): Operation(
        "A status' page address: redirects to its Note (a reblog's: its Announce).",
        responses={302: no_content("Location: the object.", Location="The object's id.")},
        errors=_STATUS_ERRORS,
    ),
}
