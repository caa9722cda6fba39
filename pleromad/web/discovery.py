"""Discovery: `/.well-known/webfinger`, `/.well-known/host-meta`,
`/.well-known/nodeinfo` and the NodeInfo documents `/nodeinfo/2.0`, `/nodeinfo/2.1`.

WebFinger answers JRD (``application/jrd+json``) unless the ``Accept``
header prefers ``application/xrd+xml``, as Pleroma does; host-meta is XRD
only.  NodeInfo's ``features`` are read off the route map, so they say what
this daemon really serves.  The NodeInfo documents and their index are
prebuilt answers (see :mod:`pleromad.web.prebuilt`); the documents' usage
counts are at most :data:`FIGURES_SECONDS` old.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial

from twisted.web.iweb import IRequest

from pleromad.domain import content, discovery
from pleromad.openapi.spec import (
    STRING,
    Operation,
    Response,
    Schema,
    array,
    closed,
    no_content,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.discovery import (
    nodeinfo_content_type,
    render_host_meta,
    render_jrd,
    render_nodeinfo,
    render_nodeinfo_links,
    render_xrd,
)
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app, plain_route, write_json
from pleromad.web.negotiation import JSON, check_accept, quality
from pleromad.web.params import read_params
from pleromad.web.prebuilt import (
    FIGURES_SECONDS,
    NOT_MODIFIED_DOC,
    Fixed,
    Refreshed,
    Source,
    prebuilt_route,
)

JRD = "application/jrd+json"
XRD = "application/xrd+xml"
_JRD_RANGES = (JRD, "application/json")
_XRD_RANGES = (XRD, "application/xml", "text/xml")
_CACHE = b"public, max-age=300"

# Pleroma's feature names, each with the route that serving it takes.
FEATURES: tuple[tuple[str, tuple[str, str]], ...] = (
    ("pleroma_api", ("GET", "/api/pleroma/healthcheck")),
    ("mastodon_api", ("GET", "/api/v1/instance")),
    ("mastodon_api_streaming", ("GET", "/api/v1/streaming")),
    ("polls", ("GET", "/api/v1/polls/{id}")),
    ("v2_suggestions", ("GET", "/api/v2/suggestions")),
    ("shareable_emoji_packs", ("GET", "/api/v1/pleroma/emoji/packs")),
    ("multifetch", ("GET", "/api/v1/statuses")),
    ("editing", ("PUT", "/api/v1/statuses/{id}")),
    ("pleroma_emoji_reactions", ("PUT", "/api/v1/pleroma/statuses/{id}/reactions/{emoji}")),
    ("exposable_reactions", ("GET", "/api/v1/pleroma/statuses/{id}/reactions")),
    ("pleroma_chat_messages", ("POST", "/api/v1/pleroma/chats/by-account-id/{id}")),
    ("profile_directory", ("GET", "/api/v1/directory")),
    ("pleroma:bookmark_folders", ("GET", "/api/v1/pleroma/bookmark_folders")),
    ("relay", ("GET", "/relay")),
)


def served_features(served: Collection[tuple[str, str]]) -> tuple[str, ...]:
    """The names of :data:`FEATURES` whose route is among ``served``
    (method, documented path)."""
    return tuple(name for name, key in FEATURES if key in served)


def _preferred(request: IRequest) -> str:
    """``XRD`` when the ``Accept`` header ranks an XML type above JSON,
    else ``JRD``; 406 when it admits neither."""
    best: tuple[float, str] | None = None
    for header in request.requestHeaders.getRawHeaders(b"accept", []):
        for item in header.decode("latin-1").split(","):
            media_range, *parameters = (part.strip() for part in item.split(";"))
            weight = quality(parameters)
            kind = _kind(media_range.lower())
            if kind is not None and weight > 0 and (best is None or weight > best[0]):
                best = (weight, kind)
    if best is not None:
        return best[1]
    check_accept(request, (*JSON, JRD, *_XRD_RANGES))
    return JRD


def _kind(media_range: str) -> str | None:
    if media_range in _JRD_RANGES:
        return JRD
    if media_range in _XRD_RANGES:
        return XRD
    return None


def write_document(request: IRequest, body: bytes, content_type: str) -> bytes:
    request.setHeader(b"content-type", f"{content_type}; charset=utf-8".encode("ascii"))
    request.setHeader(b"vary", b"Accept")
    request.setHeader(b"cache-control", _CACHE)
    return body


_XML: Schema = {**STRING, "description": "An XRD document."}
_ETAG = {"ETag": "The answer's entity tag."}
_NODEINFO = Operation(
    "NodeInfo: software, usage and Pleroma's metadata.",
    description=(
        "An account is active in a window when it posted or logged in (was given a"
        " token) within it; `features` lists the Pleroma features whose routes are served."
        f" The counts are at most {FIGURES_SECONDS:.0f} seconds old."
    ),
    responses={
        200: Response("The document.", ref("NodeInfo"), headers=_ETAG),
        304: no_content(NOT_MODIFIED_DOC, **_ETAG),
    },
)


def _nodeinfo_type(version: str) -> bytes:
    return nodeinfo_content_type(version).encode("ascii")


class DiscoveryApi:
    app = api_app()
    tag = "Discovery"

    def __init__(self, rt: Runtime, features: Sequence[str]) -> None:
        """``features``: the Pleroma features the whole tree serves (see
        :func:`served_features`), which only the tree's assembler knows."""
        self.rt = rt
        self.features = tuple(features)
        self._links = Fixed(Prebuilt.of(render_nodeinfo_links(self.base_url)))
        self._nodeinfo = {
            version: Refreshed(rt.clock, FIGURES_SECONDS, partial(self._build, version))
            for version in ("2.0", "2.1")
        }

    @property
    def base_url(self) -> str:
        return self.rt.config.server.base_url

    @plain_route(
        app,
        "/.well-known/webfinger",
        "GET",
        doc=Operation(
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
    )
    async def webfinger(self, request: IRequest) -> bytes:
        """The account ``resource`` names (``acct:nick@host`` or its actor URL)."""
        kind = _preferred(request)
        params = await read_params(request, {})
        subject = await discovery.find_subject(self.rt, params.required_str("resource"))
        if kind == XRD:
            return write_document(
                request, render_xrd(subject.acct, subject.actor_id, self.base_url), XRD
            )
        body = render_jrd(subject.acct, subject.actor_id, self.base_url)
        return write_json(request, body, headers={"Content-Type": f"{JRD}; charset=utf-8"})

    @plain_route(
        app,
        "/.well-known/host-meta",
        "GET",
        doc=Operation(
            "host-meta: where WebFinger is (an `lrdd` template).",
            responses={200: Response("The XRD document.", _XML, "application/xrd+xml")},
        ),
    )
    def host_meta(self, request: IRequest) -> bytes:
        return write_document(request, render_host_meta(self.base_url), XRD)

    @prebuilt_route(
        app,
        "/.well-known/nodeinfo",
        accept=JSON,
        doc=Operation(
            "Where the NodeInfo documents are.",
            responses={
                200: Response(
                    "Links to NodeInfo 2.0 and 2.1.",
                    closed({"links": array(closed({"rel": STRING, "href": STRING}))}),
                    headers=_ETAG,
                ),
                304: no_content(NOT_MODIFIED_DOC, **_ETAG),
            },
        ),
    )
    def nodeinfo_links(self) -> Source:
        return self._links

    @prebuilt_route(
        app,
        "/nodeinfo/2.0",
        accept=JSON,
        content_type=_nodeinfo_type("2.0"),
        doc=_NODEINFO,
    )
    def nodeinfo_20(self) -> Source:
        return self._nodeinfo["2.0"]

    @prebuilt_route(
        app,
        "/nodeinfo/2.1",
        accept=JSON,
        content_type=_nodeinfo_type("2.1"),
        doc=_NODEINFO,
    )
    def nodeinfo_21(self) -> Source:
        return self._nodeinfo["2.1"]

    async def _build(self, version: str) -> Prebuilt:
        figures = await discovery.nodeinfo_figures(self.rt)
        body = render_nodeinfo(
            version,
            self.rt.config,
            usage=figures.usage,
            staff=figures.staff,
            features=self.features,
            post_formats=content.CONTENT_TYPES,
        )
        return Prebuilt.of(body)
