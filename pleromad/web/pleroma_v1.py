"""`/api/v1/pleroma/*`: Pleroma's extensions of the Mastodon API."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class PleromaV1Api:
    app = api_app()
    prefixes = ("/api/v1/pleroma",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
