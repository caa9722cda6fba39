"""``GET /api/openapi.json``: the OpenAPI document of the tree (the gateway
routes ``/api/x.json`` as ``/api/x``)."""

from __future__ import annotations

from typing import Any

from pleromad.openapi.spec import Operation, answer, no_content
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app
from pleromad.web.prebuilt import Fixed, Source, prebuilt_route


class ContractApi:
    app = api_app()
    tag = "Contract"

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = Fixed(Prebuilt.of(document))

    @prebuilt_route(
        app,
        "/api/openapi",
        cache_control=b"public, max-age=300",
        doc=Operation(
            "This OpenAPI document.",
            responses={
                200: answer(
                    {"type": "object", "required": ["openapi", "info", "paths", "components"]},
                    "The document.",
                    ETag="Its version; send it back as If-None-Match.",
                    **{"Cache-Control": "public, max-age=300"},
                ),
                304: no_content(
                    "The client's copy (If-None-Match) is current.",
                    ETag="Its version.",
                ),
            },
        ),
    )
    def openapi(self) -> Source:
        return self.document
