"""`/api/account/*`: the TwitterAPI registration and e-mail confirmation."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pleromad.domain import registration
from pleromad.domain.rate_limits import headers
from pleromad.errors import MissingField
from pleromad.runtime import Runtime
from pleromad.views.twitter import user_entity
from pleromad.web.base import Call, JsonResponse, api_app, rate_limit_headers, route
from pleromad.web.client_ip import bucket_key


class TwitterAccountApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/account/register", "POST")
    async def register(self, call: Call) -> Any:
        key = bucket_key(call.request, self.rt.config.proxy.trusted, None)
        allowance = await registration.admit(self.rt, key)
        with rate_limit_headers(allowance):
            user = await registration.register(
                self.rt,
                registration.RegistrationForm.from_params(call.params),
                key,
                allowance=allowance,
            )
        return JsonResponse(
            user_entity(user, self.rt.config.server.base_url), 200, headers(allowance)
        )

    @route(app, "/api/account/confirm_email/<user_id>/<token>", "GET")
    async def confirm_email(self, call: Call) -> Any:
        # The mail's link percent-encodes the token's "=" padding.
        token = unquote(call.params.required_str("token"))
        await registration.confirm_email(self.rt, call.params.required_str("user_id"), token)
        return JsonResponse("", 302, {"Location": "/"})

    @route(app, "/api/account/resend_confirmation_email", "POST")
    async def resend_confirmation_email(self, call: Call) -> Any:
        return await resend_confirmation(self.rt, call)


async def resend_confirmation(rt: Runtime, call: Call) -> JsonResponse:
    """204 whether or not the account exists (DECISIONS 13); the handler of
    both confirmation_resend routes."""
    login = call.params.str("email") or call.params.str("nickname")
    if not login:
        raise MissingField("email")
    key = bucket_key(call.request, rt.config.proxy.trusted, None)
    allowance = await registration.resend_confirmation(rt, login, key)
    return JsonResponse("", 204, headers(allowance))
