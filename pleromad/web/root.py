"""The resource tree: every API family, dispatched by their own route maps.

A family is a class with ``app = api_app()`` and routes declared with their
full paths (see :mod:`pleromad.web.base`); :class:`RouteTable` sends each
request to the family that routes its path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from klein import Klein
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, RoutingException, Rule

from pleromad.openapi.document import build_document
from pleromad.runtime import Runtime
from pleromad.web import base
from pleromad.web.accounts import AccountsApi
from pleromad.web.activitypub import ActivityPubApi
from pleromad.web.admin import AdminApi
from pleromad.web.base import ServedRoute, api_app
from pleromad.web.captcha import CaptchaApi
from pleromad.web.contract import ContractApi
from pleromad.web.discovery import DiscoveryApi, served_features
from pleromad.web.emoji import EmojiApi
from pleromad.web.favourites import FavouritesApi
from pleromad.web.follow_import import FollowImportApi
from pleromad.web.inbox import InboxApi
from pleromad.web.instance import InstanceApi
from pleromad.web.lifecycle import LifecycleApi
from pleromad.web.media import MediaApi
from pleromad.web.notification_settings import NotificationSettingsApi
from pleromad.web.notifications import NotificationsApi
from pleromad.web.oauth import OAuthApi
from pleromad.web.password_reset import PasswordResetApi
from pleromad.web.prebuilt import PrebuiltRoute, Source
from pleromad.web.registration import RegistrationApi
from pleromad.web.relationships import RelationshipsApi
from pleromad.web.reports import ReportsApi
from pleromad.web.search import SearchApi
from pleromad.web.site import Gateway, PleromadRequest, body_limit
from pleromad.web.statuses import StatusesApi
from pleromad.web.timelines import TimelinesApi

# The families built from the runtime alone.
CAPABILITIES = (
    AccountsApi,
    RegistrationApi,
    RelationshipsApi,
    StatusesApi,
    FavouritesApi,
    TimelinesApi,
    NotificationsApi,
    NotificationSettingsApi,
    SearchApi,
    MediaApi,
    EmojiApi,
    CaptchaApi,
    OAuthApi,
    PasswordResetApi,
    LifecycleApi,
    FollowImportApi,
    InstanceApi,
    AdminApi,
    ReportsApi,
    ActivityPubApi,
    InboxApi,
)
# The families the tree assembles with what only it knows.
FAMILIES = (*CAPABILITIES, DiscoveryApi, ContractApi)

_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Paths whose documented form is not the routed one (see the gateway).
DOCUMENTED_AS = {"/api/openapi": "/api/openapi.json"}


def served_routes() -> list[ServedRoute]:
    """Every method and path the daemon routes, with the path as OpenAPI
    writes it (``/api/v1/accounts/{id}``)."""
    found = []
    for route in base.served_routes(FAMILIES):
        path = _PLACEHOLDER.sub(r"{\1}", route.path)
        found.append(replace(route, path=DOCUMENTED_AS.get(path, path)))
    return found


class Unrouted:
    """Where requests no family routes end: the JSON 404."""

    app = api_app()


class Family(Protocol):
    """An API family instance: its Klein app is bound to it."""

    app: Klein


@dataclass(frozen=True)
class _Prebuilt:
    """A prebuilt route of one family, as the router serves it."""

    route: PrebuiltRoute
    source: Source


class RouteTable(Resource):
    """Dispatches each request to the family whose own Klein map routes its
    path: one werkzeug map of every family's rules, whose endpoints name the
    family.  A path routed for other methods only goes to a family that
    routes it, which answers its JSON 404 as for any method it lacks; a path
    no family routes gets the same answer from an empty family.  The rule
    that routes a request is noted as ``request.route`` (for the metrics;
    UNMATCHED when none does).

    A GET or HEAD of a prebuilt route's path (see :mod:`pleromad.web.prebuilt`)
    is answered first, by one dictionary lookup, from the bytes its source
    holds, when it holds current ones."""

    isLeaf = True

    def __init__(self, families: Sequence[Family]) -> None:
        super().__init__()
        apps = [family.app for family in families]
        self._resources = [app.resource() for app in apps]
        self._unrouted = Unrouted().app.resource()
        self._map = Map(merge_slashes=False)
        self._prebuilt: dict[str, _Prebuilt] = {}
        for index, (family, app) in enumerate(zip(families, apps, strict=True)):
            for rule in app.url_map.iter_rules():
                self._map.add(
                    Rule(
                        rule.rule,
                        endpoint=index,
                        methods=rule.methods,
                        merge_slashes=rule.merge_slashes,
                    )
                )
                prebuilt = getattr(app.endpoints[rule.endpoint], "prebuilt", None)
                if prebuilt is not None:
                    assert not rule.arguments, f"{rule.rule}: a prebuilt path has no placeholders"
                    self._prebuilt[rule.rule] = _Prebuilt(prebuilt, prebuilt.source_of(family))

    def render(self, request: IRequest) -> Any:
        path = "/" + b"/".join(request.postpath).decode("utf-8", "replace")
        if request.method in (b"GET", b"HEAD") and path in self._prebuilt:
            fast = self._prebuilt[path]
            body = fast.route.serve_current(request, fast.source)
            if body is not None:
                cast(PleromadRequest, request).route = path
                return body
        routes = self._map.bind("", path_info=path)
        try:
            rule, _ = routes.match(
                method=request.method.decode("ascii", "replace"), return_rule=True
            )
        except MethodNotAllowed as wrong_method:
            allowed = sorted(wrong_method.valid_methods or ())
            family, _ = routes.match(method=allowed[0])
        except (HTTPException, RoutingException):
            return self._unrouted.render(request)
        else:
            # The rule's template labels the request in the metrics.
            cast(PleromadRequest, request).route = rule.rule
            family = rule.endpoint
        return self._resources[family].render(request)


def build_gateway(rt: Runtime) -> Gateway:
    """The whole resource tree of the daemon, as the site serves it."""
    routes = served_routes()
    features = served_features({(route.method, route.path) for route in routes})
    families = [
        *(family(rt) for family in CAPABILITIES),
        DiscoveryApi(rt, features),
        ContractApi(lambda: build_document(rt.config.server.base_url, served_routes())),
    ]
    tree = RouteTable(families)
    return Gateway(tree, body_limit(rt.config.instance.upload_limit))
