"""OAuth: apps, the authorize form, tokens, revocation and cookie sign-out."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class OAuthApi:
    app = api_app()
    prefixes = ("/oauth", "/auth", "/api/v1/apps",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
