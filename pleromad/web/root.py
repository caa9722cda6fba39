"""The Klein tree: each API family mounted at its prefix."""

from __future__ import annotations

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from pleromad.runtime import Runtime
from pleromad.web.base import api_app
from pleromad.web.pleroma import PleromaApi
from pleromad.web.site import Gateway


class Root:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.pleroma = PleromaApi(rt)

    @app.route("/api/pleroma/", branch=True)
    def pleroma_api(self, request: IRequest) -> IResource:
        return self.pleroma.app.resource()


def build_gateway(rt: Runtime) -> Gateway:
    """The whole resource tree of the daemon, as the site serves it."""
    return Gateway(Root(rt).app.resource(), rt.config.instance.upload_limit)
