"""The password reset pages (``/api/pleroma/password_reset``): the form a
reset mail links to, and changing the password with it."""

from __future__ import annotations

import html

from twisted.web.iweb import IRequest

from pleromad.domain import password_reset
from pleromad.domain.rate_limits import Throttled
from pleromad.domain.rate_limits import headers as rate_limit_headers
from pleromad.openapi.spec import RATE_LIMITED, STRING, Operation, Response, busy, closed
from pleromad.openapi.spec import html as html_page
from pleromad.runtime import Runtime
from pleromad.web.base import Call, api_app, page, write_json
from pleromad.web.client_ip import bucket_key
from pleromad.web.pages import render_page
from pleromad.web.params import Params

RESET_PATH = "/api/pleroma/password_reset"


class PasswordResetApi:
    app = api_app()
    tag = "Password reset"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- the form, and its answer --

    @page(
        app,
        RESET_PATH + "/<token>",
        "GET",
        doc=Operation(
            "The form that sets a new password (a reset link).",
            responses={
                200: html_page("The form."),
                404: html_page("The link is invalid, expired or already used."),
            },
            errors={503: "The database is unavailable; try again."},
        ),
    )
    async def reset_form(self, call: Call) -> bytes:
        token = call.params["token"]
        if not await password_reset.token_is_live(self.rt, token):
            return _invalid_token_page(call.request, 404)
        return _reset_form_page(call.request, token, None, 200)

    @page(
        app,
        RESET_PATH,
        "POST",
        doc=Operation(
            "Set a new password with a reset token (the form's target).",
            responses={
                200: html_page("Changed: every token of the account was revoked."),
                400: html_page(
                    "An invalid, expired or used token (a page saying so), or an empty or"
                    " mismatched password (the form again)."
                ),
                429: Response(
                    "Too many attempts from this address: a page saying so (JSON to a client"
                    " whose Accept has application/json and not text/html).",
                    {"type": "string"},
                    "text/html",
                    RATE_LIMITED,
                ),
                503: busy("password hashes"),
            },
            fields={
                "data": closed(
                    {"token": STRING, "password": STRING, "password_confirmation": STRING},
                    optional=("token", "password", "password_confirmation"),
                ),
                "token": STRING,
                "password": STRING,
                "password_confirmation": STRING,
            },
            errors={
                400: "Malformed parameters.",
                429: "Too many attempts, to a client that asks for JSON (`Throttled`).",
            },
            description=(
                "The form sends `data[token]`, `data[password]` and `data[password_confirmation]`;"
                " plain names are read when there is no `data`.  Every attempt counts against the"
                " `password_reset` rate limit (its headers are on every answer)."
            ),
        ),
    )
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
