"""Discovery: WebFinger, host-meta and NodeInfo (pleromad.web.discovery)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    INTEGER,
    STRING,
    Operation,
    Response,
    Schema,
    array,
    closed,
    enum,
    ref,
)

TAG = "Discovery"

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

_NODEINFO = Operation(
    "NodeInfo: software, usage and Pleroma's metadata.",
    description=(
        "An account is active in a window when it posted or logged in (was given a"
        " token) within it; `features` lists the Pleroma features whose routes are served."
    ),
    responses={200: Response("The document.", ref("NodeInfo"))},
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/.well-known/webfinger"): Operation(
        "WebFinger (RFC 7033): the actor of a local account.",
        description=(
            "`resource` is `acct:nick@host` (host with its port when base_url has one),"
            " `nick@host` or the actor URL.  JRD, or XRD when `Accept` prefers"
            " `application/xrd+xml`."
        ),
        fields={"resource": STRING},
        required=("resource",),
        responses={
            200: Response(
                "The account.",
                ref("JRD"),
                "application/jrd+json",
                alternatives={"application/xrd+xml": _XML},
            )
        },
        errors={
            404: "No local account in use has that name.",
            406: "An Accept header that admits neither JRD nor XRD.",
        },
    ),
    ("GET", "/.well-known/host-meta"): Operation(
        "host-meta: where WebFinger is (an `lrdd` template).",
        responses={200: Response("The XRD document.", _XML, "application/xrd+xml")},
    ),
    ("GET", "/.well-known/nodeinfo"): Operation(
        "Where the NodeInfo documents are.",
        responses={
            200: Response(
                "Links to NodeInfo 2.0 and 2.1.",
                closed({"links": array(closed({"rel": STRING, "href": STRING}))}),
            )
        },
    ),
    ("GET", "/nodeinfo/2.0"): _NODEINFO,
    ("GET", "/nodeinfo/2.1"): _NODEINFO,
}
