"""Registration: the TwitterAPI form (`/api/account/register`), Mastodon's
app-token registration (`POST /api/v1/accounts`, DECISIONS 25) and e-mail
confirmation."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pleromad.domain import oauth, registration
from pleromad.domain.rate_limits import headers
from pleromad.errors import MissingField
from pleromad.runtime import Runtime
from pleromad.views import oauth as oauth_views
from pleromad.views.twitter import user_entity
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, rate_limit_headers, route
from pleromad.web.client_ip import bucket_key


class RegistrationApi:
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

    @route(app, "/api/v1/accounts", "POST", auth=Auth.APP)
    async def register_with_app(self, call: Call) -> Any:
        """Mastodon's registration (DECISIONS 25): an app token creates an
        account and gets back a token for it, with the app's scopes."""
        assert call.viewer is not None and call.viewer.token is not None
        key = bucket_key(call.request, self.rt.config.proxy.trusted, None)
        allowance = await registration.admit(self.rt, key)
        with rate_limit_headers(allowance):
            user = await registration.register_with_app(
                self.rt, call.params, key, allowance=allowance
            )
        issued = await oauth.issue_token(self.rt, call.viewer.token.app_id, user)
        return JsonResponse(
            oauth_views.token(issued, user, oauth.TOKEN_LIFETIME), 200, headers(allowance)
        )

    @route(app, "/api/account/confirm_email/<user_id>/<token>", "GET")
    async def confirm_email(self, call: Call) -> Any:
        # The mail's link percent-encodes the token's "=" padding.
        token = unquote(call.params.required_str("token"))
        await registration.confirm_email(self.rt, call.params.required_str("user_id"), token)
        return JsonResponse("", 302, {"Location": "/"})

    @route(app, "/api/account/resend_confirmation_email", "POST")
    async def resend_confirmation_email(self, call: Call) -> Any:
        return await self._resend_confirmation(call)

    @route(app, "/api/v1/pleroma/accounts/confirmation_resend", "POST")
    async def confirmation_resend(self, call: Call) -> Any:
        return await self._resend_confirmation(call)

    async def _resend_confirmation(self, call: Call) -> JsonResponse:
        """204 whether or not the account exists (DECISIONS 13)."""
        login = call.params.str("email") or call.params.str("nickname")
        if not login:
            raise MissingField("email")
        key = bucket_key(call.request, self.rt.config.proxy.trusted, None)
        allowance = await registration.resend_confirmation(self.rt, login, key)
        return JsonResponse("", 204, headers(allowance))
