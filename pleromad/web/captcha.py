"""``GET /api/pleroma/captcha``: a new challenge for the registration form."""

from __future__ import annotations

from typing import Any

from pleromad.domain import captcha
from pleromad.runtime import Runtime
from pleromad.web.base import Call, api_app, route
from pleromad.web.negotiation import JSON_OR_HTML


class CaptchaApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/pleroma/captcha", "GET", accept=JSON_OR_HTML)
    async def captcha(self, call: Call) -> Any:
        return await captcha.new_challenge(self.rt)
