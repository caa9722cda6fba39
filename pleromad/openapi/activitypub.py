"""The ActivityPub documents pleromad serves (pleromad.web.activitypub):
actors, their collections, Notes and activities.

The schemas hold what pleromad always sends; ActivityPub documents are
open, so other keys are allowed."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    STRING,
    Schema,
    array,
    enum,
    nullable,
)


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
