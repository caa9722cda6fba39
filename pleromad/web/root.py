"""The resource tree: each API family owns some path prefixes.

A family is a class with ``app = api_app()``, ``prefixes`` and routes
declared with their full paths.  The longest prefix that matches a request
picks the family (of families sharing a prefix, the one that routes the
request); a family without the route answers the JSON 404 itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from klein import Klein
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RoutingException

from pleromad.openapi.document import build_document
from pleromad.runtime import Runtime
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.accounts import AccountsApi
from pleromad.web.activitypub import ActivityPubApi
from pleromad.web.admin import AdminApi
from pleromad.web.base import Access, api_app
from pleromad.web.discovery import DiscoveryApi
from pleromad.web.emoji import EmojiApi
from pleromad.web.inbox import InboxApi
from pleromad.web.media import MediaApi
from pleromad.web.notifications import NotificationsApi
from pleromad.web.oauth import OAuthApi
from pleromad.web.pleroma import PleromaApi
from pleromad.web.pleroma_notifications import PleromaNotificationsApi
from pleromad.web.pleroma_v1 import PleromaV1Api
from pleromad.web.prebuilt import serve_prebuilt
from pleromad.web.relationships import RelationshipsApi
from pleromad.web.site import Gateway, body_limit
from pleromad.web.statuses import StatusesApi
from pleromad.web.timelines import TimelinesApi
from pleromad.web.twitter import TwitterAccountApi


class ContractApi:
    """``GET /api/openapi.json``: the OpenAPI document of this tree
    (the gateway routes ``/api/x.json`` as ``/api/x``)."""

    app = api_app()
    prefixes = ("/api/openapi",)

    def __init__(self, rt: Runtime) -> None:
        self.document = Prebuilt.of(build_document(rt.config.server.base_url, route_map()))

    @app.route("/api/openapi", methods=["GET"])
    def openapi(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, self.document, b"public, max-age=300")


FAMILIES = (
    PleromaApi,
    PleromaV1Api,
    AccountsApi,
    OAuthApi,
    TwitterAccountApi,
    MediaApi,
    EmojiApi,
    RelationshipsApi,
    StatusesApi,
    TimelinesApi,
    NotificationsApi,
    PleromaNotificationsApi,
    AdminApi,
    DiscoveryApi,
    ActivityPubApi,
    InboxApi,
    ContractApi,
)

_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Paths whose documented form is not the routed one (see the gateway).
DOCUMENTED_AS = {"/api/openapi": "/api/openapi.json"}


@dataclass(frozen=True)
class ServedRoute:
    method: str
    path: str  # as OpenAPI writes it: /api/v1/accounts/{id}
    access: Access | None  # None: a plain Klein route (files, HTML pages)


def served_routes() -> list[ServedRoute]:
    """Every method and path the families route, from their Klein maps;
    HEAD, which werkzeug adds to every GET, is left out."""
    found = []
    for family_class in FAMILIES:
        app = family_class.app
        for rule in app.url_map.iter_rules():
            access = getattr(app.endpoints[rule.endpoint], "access", None)
            path = _PLACEHOLDER.sub(r"{\1}", rule.rule)
            path = DOCUMENTED_AS.get(path, path)
            found += [
                ServedRoute(method, path, access)
                for method in sorted(rule.methods or ())
                if method not in ("HEAD", "OPTIONS")
            ]
    return found


def route_map() -> dict[tuple[str, str], Access | None]:
    return {(r.method, r.path): r.access for r in served_routes()}


class Unrouted:
    """Where requests no family claims end: the JSON 404."""

    app = api_app()


class PrefixRouter(Resource):
    isLeaf = True

    def __init__(self, routes: list[tuple[str, IResource]], fallback: IResource) -> None:
        super().__init__()
        # Longest first, so /api/v1/pleroma wins over /api/v1.
        self._routes = sorted(
            ((tuple(p.strip("/").split("/")), r) for p, r in routes),
            key=lambda route: -len(route[0]),
        )
        self._fallback = fallback

    def render(self, request: IRequest) -> Any:
        segments = tuple(s.decode("utf-8", "replace") for s in request.postpath)
        for prefix, resource in self._routes:
            if segments[: len(prefix)] == prefix:
                return resource.render(request)
        return self._fallback.render(request)


class SharedPrefix(Resource):
    """The families that share a prefix (/users: ActivityPub's actors and
    inboxes): the first whose routes match the request serves it, else
    the first of all (which answers the 404)."""

    isLeaf = True

    def __init__(self, families: list[tuple[Map, IResource]]) -> None:
        super().__init__()
        self._families = families

    def render(self, request: IRequest) -> Any:
        path = "/" + "/".join(s.decode("utf-8", "replace") for s in request.postpath)
        method = request.method.decode("ascii", "replace")
        for url_map, resource in self._families:
            try:
                url_map.bind("localhost").match(path, method=method)
            except HTTPException:
                continue
            return resource.render(request)
        return self._families[0][1].render(request)


class Family(Resource):
    """One family's Klein resource, noting on the request the rule that
    routes it (``request.route``, for the metrics; left as UNMATCHED when
    none does)."""

    isLeaf = True

    def __init__(self, app: Klein) -> None:
        super().__init__()
        self._rules = app.url_map
        self._resource = app.resource()

    def render(self, request: IRequest) -> Any:
        path = "/" + "/".join(s.decode("utf-8", "replace") for s in request.postpath)
        method = request.method.decode("ascii", "replace")
        try:
            rule, _ = self._rules.bind("", path_info=path).match(method=method, return_rule=True)
        except (HTTPException, RoutingException):
            pass
        else:
            request.route = rule.rule
        return self._resource.render(request)


def build_gateway(rt: Runtime) -> Gateway:
    """The whole resource tree of the daemon, as the site serves it."""
    by_prefix: dict[str, list[tuple[Map, IResource]]] = {}
    for family_class in FAMILIES:
        app = family_class(rt).app
        for prefix in family_class.prefixes:
            by_prefix.setdefault(prefix, []).append((app.url_map, Family(app)))
    routes = [
        (prefix, families[0][1] if len(families) == 1 else SharedPrefix(families))
        for prefix, families in by_prefix.items()
    ]
    tree = PrefixRouter(routes, Unrouted().app.resource())
    return Gateway(tree, body_limit(rt.config.instance.upload_limit))
