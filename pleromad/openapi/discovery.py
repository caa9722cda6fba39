"""The documents of discovery (pleromad.web.discovery): WebFinger's JRD and NodeInfo."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    INTEGER,
    STRING,
    Schema,
    array,
    closed,
    enum,
)

_COUNT: Schema = {"type": "integer", "minimum": 0}
_XML: Schema = {**STRING, "description": "An XRD document."}

SCHEMAS: dict[str, Schema] = {
    "JRD": closed(
        {
            "subject": STRING,
            "aliases": array(STRING),
            "links": array(
                closed(
                    {"rel": STRING, "type": STRING, "href": STRING, "template": STRING},
                    optional=("type", "href", "template"),
                )
            ),
        }
    ),
    "NodeInfo": closed(
        {
            "version": enum("2.0", "2.1"),
            "software": closed(
                {
                    "name": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "version": STRING,
                    "repository": STRING,
                    "homepage": STRING,
                },
                optional=("repository", "homepage"),
            ),
            "protocols": {"type": "array", "items": enum("activitypub"), "minItems": 1},
            "services": closed({"inbound": array(STRING), "outbound": array(STRING)}),
            "openRegistrations": BOOLEAN,
            "usage": closed(
                {
                    "users": closed(
                        {"total": _COUNT, "activeMonth": _COUNT, "activeHalfyear": _COUNT}
                    ),
                    "localPosts": _COUNT,
                }
            ),
            "metadata": {
                "type": "object",
                "description": "Pleroma's keys.",
                "required": [
                    "nodeName",
                    "nodeDescription",
                    "staffAccounts",
                    "features",
                    "federation",
                    "postFormats",
                    "uploadLimits",
                    "accountActivationRequired",
                    "invitesEnabled",
                    "restrictedNicknames",
                ],
                "properties": {
                    "nodeName": STRING,
                    "nodeDescription": STRING,
                    "staffAccounts": array(STRING),
                    "features": array(STRING),
                    "federation": {"type": "object", "required": ["enabled"]},
                    "postFormats": array(STRING),
                    "uploadLimits": closed(
                        {
                            "general": INTEGER,
                            "avatar": INTEGER,
                            "banner": INTEGER,
                            "background": INTEGER,
                        }
                    ),
                    "accountActivationRequired": BOOLEAN,
                    "invitesEnabled": BOOLEAN,
                    "restrictedNicknames": array(STRING),
                },
            },
        }
    ),
}
