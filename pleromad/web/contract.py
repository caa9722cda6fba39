"""``GET /api/openapi.json``: the OpenAPI document of the tree (the gateway
routes ``/api/x.json`` as ``/api/x``).

The document is built and encoded on its first request, not at start: it is
some 370 KB of JSON that few clients ever fetch, and building it leaves the
idle daemon about 2 MB larger (see docs/memory.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pleromad.openapi.spec import Operation, answer, no_content
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app
from pleromad.web.prebuilt import OnDemand, Source, prebuilt_route


class ContractApi:
    app = api_app()
    tag = "Contract"

    def __init__(self, build_document: Callable[[], dict[str, Any]]) -> None:
        self.document = OnDemand(lambda: Prebuilt.of(build_document()))

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
