"""``GET /api/pleroma/captcha``: a new challenge for the registration form."""

from __future__ import annotations

from typing import Any

from pleromad.domain import captcha
from pleromad.openapi.spec import INTEGER, STRING, Operation, Response, answer, closed, ref
from pleromad.runtime import Runtime
from pleromad.web.base import Call, api_app, route
from pleromad.web.negotiation import JSON_OR_HTML


class CaptchaApi:
    app = api_app()
    tag = "Captcha"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/pleroma/captcha",
        "GET",
        accept=JSON_OR_HTML,
        doc=Operation(
            "A new captcha challenge for registration.",
            responses={
                200: answer(
                    {
                        "anyOf": [
                            closed({"type": {"const": "none"}}),
                            closed(
                                {
                                    "type": STRING,
                                    "token": STRING,
                                    "url": {"type": "string", "description": "The image to solve."},
                                    "seconds_valid": INTEGER,
                                }
                            ),
                        ]
                    },
                    '`{"type": "none"}` while captchas are disabled; else the provider\'s'
                    " (native, kocaptcha) challenge, valid for seconds_valid.",
                ),
                503: Response(
                    "Too many native captchas are waiting to be drawn (try again after"
                    " Retry-After seconds), or the database or the provider's service is"
                    " unavailable.",
                    ref("Error"),
                    headers={"Retry-After": "Seconds to wait before trying again (when busy)."},
                ),
            },
        ),
    )
    async def captcha(self, call: Call) -> Any:
        return await captcha.new_challenge(self.rt)
