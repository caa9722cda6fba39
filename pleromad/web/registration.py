"""Registration: the TwitterAPI form (`/api/account/register`), Mastodon's
app-token registration (`POST /api/v1/accounts`, DECISIONS 25) and e-mail
confirmation."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pleromad.domain import oauth, registration
from pleromad.domain.rate_limits import headers
from pleromad.errors import MissingField
from pleromad.openapi.entities import EMAIL_FIELD, NICKNAME_FIELD
from pleromad.openapi.spec import (
    NON_BLANK,
    RATE_LIMITED,
    STRING,
    Operation,
    answer,
    busy,
    enum,
    no_content,
    note,
    present,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views import oauth as oauth_views
from pleromad.views.twitter import user_entity
from pleromad.web.auth import Auth
from pleromad.web.base import Call, JsonResponse, api_app, rate_limit_headers, route
from pleromad.web.client_ip import bucket_key

REGISTRATION_400 = (
    "Malformed parameters, or a field Pleroma refuses: the error is the JSON"
    " text of {field: [messages]}"
    " (nickname, name, email, password, password_confirmation, bio, captcha)."
    "  While registrations are closed, a missing, unknown or used-up invite"
    ' `token` is answered with the bare JSON string "Invalid token" or'
    ' "Expired token" instead.'
)

REFUSED = {
    "anyOf": [
        ref("Error"),
        {**enum("Invalid token", "Expired token"), "description": "An invite refusal."},
    ]
}

THROTTLED = "Too many registration attempts from this client (X-RateLimit headers sent)."

INVITE = note(STRING, "An invite, needed while registrations are closed.")

RESEND_FIELDS = {"email": STRING, "nickname": note(STRING, "Read when email is absent or empty.")}
# The account is named by a non-empty email, or else nickname.
_NAMED = {"type": "string", "minLength": 1}
RESEND_RULE = (present("email", email=_NAMED), present("nickname", nickname=_NAMED))


class RegistrationApi:
    app = api_app()
    tag = "Registration"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/account/register",
        "POST",
        doc=Operation(
            "Register an account (TwitterAPI form, as Pleroma-FE sends it).",
            description=(
                "Counts against the registration rate limit, checks the captcha,"
                " the invite while registrations are closed, then every field at once;"
                " a refused registration leaves nothing behind.  With activation"
                " required, the account waits for its confirmation mail's link."
            ),
            responses={
                200: answer(ref("TwitterUser"), "The new account.", **RATE_LIMITED),
                400: answer(REFUSED, REGISTRATION_400, **RATE_LIMITED),
                503: busy("password hashes"),
            },
            fields={
                "nickname": NICKNAME_FIELD,
                "fullname": note(NON_BLANK, "At most the instance's user_name_length."),
                "bio": note(STRING, "At most the instance's user_bio_length."),
                "email": EMAIL_FIELD,
                "password": NON_BLANK,
                "confirm": note(NON_BLANK, "The password again."),
                "token": INVITE,
                "captcha_token": STRING,
                "captcha_solution": STRING,
                "captcha_answer_data": STRING,
            },
            required=("nickname", "fullname", "email", "password", "confirm"),
            errors={429: THROTTLED},
        ),
    )
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

    @route(
        app,
        "/api/v1/accounts",
        "POST",
        auth=Auth.APP,
        doc=Operation(
            "Register an account with an app token and get a user token for it.",
            description=(
                "Mastodon's registration (DECISIONS 25): the same checks as"
                " /api/account/register; `fullname` defaults to the username and the"
                " password is its own confirmation.  The token has the app's scopes."
            ),
            responses={
                200: answer(ref("AccountToken"), "The new account's token.", **RATE_LIMITED),
                400: answer(
                    REFUSED,
                    'Malformed parameters; "Missing parameters" when username, email or'
                    " password is absent or agreement is not true; otherwise as"
                    " /api/account/register.",
                    **RATE_LIMITED,
                ),
                503: busy("password hashes"),
            },
            fields={
                "username": NICKNAME_FIELD,
                "email": EMAIL_FIELD,
                "password": NON_BLANK,
                "agreement": {"anyOf": [{"const": True}, {"enum": ["true", "1", "on"]}]},
                "fullname": note(NON_BLANK, "At most the instance's user_name_length."),
                "bio": note(STRING, "At most the instance's user_bio_length."),
                "token": INVITE,
                "captcha_token": STRING,
                "captcha_solution": STRING,
                "captcha_answer_data": STRING,
            },
            required=("username", "email", "password", "agreement"),
            errors={
                403: "Not an app token (a user's token, or none).",
                429: THROTTLED,
            },
        ),
    )
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

    @route(
        app,
        "/api/account/confirm_email/<user_id>/<token>",
        "GET",
        doc=Operation(
            "Confirm an account's e-mail address: the link of the confirmation mail.",
            responses={
                302: answer({"const": ""}, "Confirmed; on to the front page.", Location="`/`.")
            },
            errors={
                400: (
                    'A path that is not UTF-8, or "Invalid token": no account waiting'
                    " for confirmation has this id and token."
                )
            },
        ),
    )
    async def confirm_email(self, call: Call) -> Any:
        # The mail's link percent-encodes the token's "=" padding.
        token = unquote(call.params.required_str("token"))
        await registration.confirm_email(self.rt, call.params.required_str("user_id"), token)
        return JsonResponse("", 302, {"Location": "/"})

    @route(
        app,
        "/api/account/resend_confirmation_email",
        "POST",
        doc=Operation(
            "Send an unconfirmed account's confirmation mail again.",
            description=(
                "Answered alike whether or not such an account exists (DECISIONS 13);"
                " a mail goes out only when activation is required and the account"
                " still waits for it."
            ),
            responses={204: no_content("Done, if there was anything to do.", **RATE_LIMITED)},
            fields=RESEND_FIELDS,
            any_of=RESEND_RULE,
            errors={
                400: "Malformed parameters, or neither email nor nickname (Missing field: email).",
                429: "Too many resends from this client (X-RateLimit headers sent).",
            },
        ),
    )
    async def resend_confirmation_email(self, call: Call) -> Any:
        return await self._resend_confirmation(call)

    @route(
        app,
        "/api/v1/pleroma/accounts/confirmation_resend",
        "POST",
        doc=Operation(
            "Send the confirmation mail of a pending account again.",
            responses={
                204: no_content(
                    "Whether or not such an account exists (it is not disclosed).", **RATE_LIMITED
                )
            },
            fields=RESEND_FIELDS,
            any_of=RESEND_RULE,
            errors={
                400: "Malformed parameters, or neither email nor nickname (`Missing field: email`).",
                429: "Too many requests from this address (`confirmation_resend`).",
            },
        ),
    )
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
