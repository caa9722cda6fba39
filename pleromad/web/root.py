"""The resource tree: each API family owns some path prefixes.

A family is a class with ``app = api_app()``, ``prefixes`` and routes
declared with their full paths.  The longest prefix that matches a request
picks the family; a family without the route answers the JSON 404 itself.
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from pleromad.runtime import Runtime
from pleromad.web.accounts import AccountsApi
from pleromad.web.admin import AdminApi
from pleromad.web.base import api_app
from pleromad.web.emoji import EmojiApi
from pleromad.web.media import MediaApi
from pleromad.web.notifications import NotificationsApi
from pleromad.web.oauth import OAuthApi
from pleromad.web.pleroma import PleromaApi
from pleromad.web.pleroma_notifications import PleromaNotificationsApi
from pleromad.web.pleroma_v1 import PleromaV1Api
from pleromad.web.relationships import RelationshipsApi
from pleromad.web.site import Gateway, body_limit
from pleromad.web.statuses import StatusesApi
from pleromad.web.timelines import TimelinesApi
from pleromad.web.twitter import TwitterAccountApi

FAMILIES = (
    PleromaApi, PleromaV1Api, AccountsApi, OAuthApi, TwitterAccountApi, MediaApi, EmojiApi,
    RelationshipsApi, StatusesApi, TimelinesApi, NotificationsApi, PleromaNotificationsApi,
    AdminApi,
)


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


def build_gateway(rt: Runtime) -> Gateway:
    """The whole resource tree of the daemon, as the site serves it."""
    routes = []
    for family_class in FAMILIES:
        resource = family_class(rt).app.resource()
        routes += [(prefix, resource) for prefix in family_class.prefixes]
    tree = PrefixRouter(routes, Unrouted().app.resource())
    return Gateway(tree, body_limit(rt.config.instance.upload_limit))
