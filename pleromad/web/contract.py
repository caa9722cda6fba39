"""``GET /api/openapi.json``: the OpenAPI document of the tree (the gateway
routes ``/api/x.json`` as ``/api/x``)."""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app
from pleromad.web.prebuilt import serve_prebuilt


class ContractApi:
    app = api_app()

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = Prebuilt.of(document)

    @app.route("/api/openapi", methods=["GET"])
    def openapi(self, request: IRequest) -> bytes:
        return serve_prebuilt(request, self.document, b"public, max-age=300")
