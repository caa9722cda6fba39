"""Media: uploads (`/api/v1/media`, `/api/v2/media`) and serving them (`/media/*`)."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class MediaApi:
    app = api_app()
    prefixes = ("/api/v1/media", "/api/v2/media", "/media")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
