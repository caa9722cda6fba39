"""Mastodon accounts and the instance: `/api/v1/accounts/*`, `/api/v1/instance`."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class AccountsApi:
    app = api_app()
    prefixes = ("/api/v1/accounts", "/api/v1/instance",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
