"""``/api/pleroma/*``: the Pleroma utility endpoints, the end of an account
and the password reset pages."""

from __future__ import annotations

import html
from typing import Any

from twisted.web.iweb import IRequest

from pleromad.domain import captcha, follow_import, health, lifecycle, password_reset
from pleromad.domain.rate_limits import Throttled
from pleromad.domain.rate_limits import headers as rate_limit_headers
from pleromad.errors import BadRequest, MissingField
from pleromad.runtime import Runtime
from pleromad.views import health as health_view
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, page, route, write_json
from pleromad.web.client_ip import bucket_key, client_key
from pleromad.web.negotiation import JSON_OR_HTML
from pleromad.web.pages import render_page
from pleromad.web.params import Params, Upload

RESET_PATH = "/api/pleroma/password_reset"


class PleromaApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/pleroma/healthcheck", "GET", accept=JSON_OR_HTML)
    async def healthcheck(self, call: Call) -> Any:
        if not self.rt.config.instance.healthcheck:
            return JsonResponse({}, 503)
        state = await health.check(self.rt.db, self.rt.clock)
        return JsonResponse(health_view.render(state), 200 if state.healthy else 503)

    @route(app, "/api/pleroma/captcha", "GET", accept=JSON_OR_HTML)
    async def captcha(self, call: Call) -> Any:
        return await captcha.new_challenge(self.rt)

    # -- the end of an account (DECISIONS 14) --------------------------------

    @route(app, "/api/pleroma/delete_account", "POST", auth=Auth.REQUIRED, scope="write")
    async def delete_account(self, call: Call) -> Any:
        await lifecycle.delete_own_account(
            self.rt, call.user, _password(call.params), self._client_key(call.request)
        )
        return {"status": "success"}

    @route(app, "/api/pleroma/disable_account", "POST", auth=Auth.REQUIRED, scope="write")
    async def disable_account(self, call: Call) -> Any:
        await lifecycle.disable_own_account(
            self.rt, call.user, _password(call.params), self._client_key(call.request)
        )
        return {"status": "success"}

    @route(app, "/api/pleroma/follow_import", "POST", auth=Auth.REQUIRED, scope="follow")
    async def follow_import(self, call: Call) -> Any:
        """DECISIONS 10: answered at once; a durable job makes the follows."""
        await follow_import.start_import(self.rt, call.user, _follow_list(call.params))
        return "job started"

    def _client_key(self, request: IRequest) -> str:
        return client_key(request, self.rt.config.proxy.trusted)

    # -- password reset pages --------------------------------------------------

    @page(app, RESET_PATH + "/<token>", "GET")
    async def reset_form(self, call: Call) -> bytes:
        token = call.params["token"]
        if not await password_reset.token_is_live(self.rt, token):
            return _invalid_token_page(call.request, 404)
        return _reset_form_page(call.request, token, None, 200)

    @page(app, RESET_PATH, "POST")
    async def reset_password(self, call: Call) -> bytes:
        request, params = call.request, call.params
        allowance = await self.rt.limiter.hit(
            "password_reset", bucket_key(request, self.rt.config.proxy.trusted, None)
        )
        for name, value in rate_limit_headers(allowance).items():
            request.setHeader(name.encode("ascii"), value.encode("utf-8"))
        if not allowance.allowed:
            return _throttled(request, Throttled(allowance))
        token = _form_field(params, "token")
        try:
            await password_reset.reset(
                self.rt,
                token,
                _form_field(params, "password"),
                _form_field(params, "password_confirmation"),
            )
        except password_reset.ResetRefused as refused:
            if refused.bad_token:
                return _invalid_token_page(request, 400)
            return _reset_form_page(request, token, refused.message, 400)
        return render_page(
            request,
            "Password changed",
            "<p>Your password has been changed. Every app and browser signed in to your"
            " account has been signed out; log in again with the new password.</p>",
        )


def _password(params: Params) -> str | None:
    """The confirming password; a value of the wrong type is no password."""
    try:
        return params.str("password")
    except BadRequest:
        return None


def _follow_list(params: Params) -> str:
    """``list``: the text itself, or an uploaded file of UTF-8 text."""
    value = params.get("list")
    if value is None:
        raise MissingField("list")
    if isinstance(value, str):
        return value
    if isinstance(value, Upload):
        try:
            return value.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("Invalid value for list: the file is not UTF-8 text") from None
    raise BadRequest("Invalid value for list: expected a string or a file")


def _form_field(params: Params, name: str) -> str:
    """``data[name]`` as the reset form sends it, or a plain ``name``; "" if
    absent or not text."""
    data = params.get("data")
    value = data.get(name) if isinstance(data, dict) else params.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) else ""


def _reset_form_page(request: IRequest, token: str, error: str | None, status: int) -> bytes:
    alert = f'<p class="alert">{html.escape(error)}</p>' if error else ""
    body = (
        f"{alert}"
        f'<form method="post" action="{RESET_PATH}">'
        f'<input type="hidden" name="data[token]" value="{html.escape(token)}">'
        f'<label for="password">New password</label>'
        f'<input id="password" type="password" name="data[password]"'
        f' autocomplete="new-password" required>'
        f'<label for="confirmation">Confirm the new password</label>'
        f'<input id="confirmation" type="password" name="data[password_confirmation]"'
        f' autocomplete="new-password" required>'
        f'<button type="submit">Change password</button>'
        f"</form>"
    )
    return render_page(request, "Password reset", body, status)


def _invalid_token_page(request: IRequest, status: int) -> bytes:
    return render_page(
        request,
        "Invalid token",
        "<p>This password reset link is invalid, expired or already used. Ask for a new one.</p>",
        status,
    )


def _throttled(request: IRequest, throttled: Throttled) -> bytes:
    """The 429, as JSON to a client that asks for JSON, else as a page."""
    accept = (request.getHeader(b"accept") or b"").decode("latin-1").lower()
    if "application/json" in accept and "text/html" not in accept:
        return write_json(request, throttled.body(), throttled.status, throttled.headers)
    return render_page(
        request,
        "Too many attempts",
        "<p>Too many password reset attempts from your address. Try again later.</p>",
        throttled.status,
    )
