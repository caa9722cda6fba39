"""`/api/account/*`: the TwitterAPI registration and e-mail confirmation."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class TwitterAccountApi:
    app = api_app()
    prefixes = ("/api/account",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
