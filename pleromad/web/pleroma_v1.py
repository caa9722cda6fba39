"""`/api/v1/pleroma/*`: Pleroma's extensions of the Mastodon API."""

from __future__ import annotations

from typing import Any

from pleromad.runtime import Runtime
from pleromad.web.base import Call, api_app, route
from pleromad.web.twitter import resend_confirmation


class PleromaV1Api:
    app = api_app()
    prefixes = ("/api/v1/pleroma",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/pleroma/accounts/confirmation_resend", "POST")
    async def confirmation_resend(self, call: Call) -> Any:
        return await resend_confirmation(self.rt, call)
