"""OAuth: apps, the authorize form, tokens, revocation and cookie sign-out.

The authorize endpoints answer HTML pages (people read them in a browser);
the others JSON.  A successful form login also sets the ``_pleroma_key``
cookie (DECISIONS 1), which ``/auth/sign_out`` revokes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from twisted.web.iweb import IRequest

from pleromad.auth.credentials import LoginFailed
from pleromad.domain import oauth
from pleromad.domain.login import verify_login
from pleromad.domain.rate_limits import Throttled
from pleromad.errors import BadRequest, Forbidden
from pleromad.model import App
from pleromad.openapi.spec import (
    NON_BLANK,
    RATE_LIMITED,
    SPACE,
    STRING,
    Operation,
    Response,
    Schema,
    answer,
    array,
    busy,
    closed,
    enum,
    html,
    nullable,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views import oauth as views
from pleromad.web.auth import (
    COOKIE_NAME,
    INVALID_CREDENTIALS,
    Auth,
    same_origin,
    sign_cookie,
    verify_cookie,
)
from pleromad.web.base import Call, JsonResponse, api_app, page, route
from pleromad.web.client_ip import client_key
from pleromad.web.pages import render_page
from pleromad.web.params import Params

BAD_REQUEST = "Bad request"
INVALID_LOGIN = "Invalid Username/Password"
UNKNOWN_APP = "This application is not registered on this server."
UNLISTED_REDIRECT = "The redirect URI is not one this application registered."
THROTTLED_LOGIN = "Too many failed login attempts. Try again later."


SCOPE = {
    "anyOf": [STRING, array(STRING)],
    "description": "Scopes separated by spaces or commas (or a list of such strings).",
}
# What an app may be registered with: read, write, follow and push.
_APP_SCOPES: Schema = {
    "type": "string",
    "pattern": f"^[{SPACE},]*(?:(?:read|write|follow|push)(?:[{SPACE},]+|$))*$",
}
APP_SCOPE: Schema = {**SCOPE, "anyOf": [_APP_SCOPES, array(_APP_SCOPES)]}
# One absolute URI without a fragment (urlsplit's scheme; no control, no
# white space, which separates URIs).
_URI = f"[a-zA-Z][a-zA-Z0-9+.-]*:[^\\u0000-\\u0020\\u007f#{SPACE}]*"
_REDIRECT_URIS: Schema = {
    "type": "string",
    "pattern": f"^[{SPACE}]*{_URI}(?:[{SPACE}]+{_URI})*[{SPACE}]*$",
}

AUTHORIZE_FIELDS = {
    "client_id": STRING,
    "redirect_uri": {
        "type": "string",
        "description": "One the app registered; its first one when absent.",
    },
    "response_type": {"type": "string", "description": "Echoed in the form; only `code` exists."},
    "scope": SCOPE,
    "scopes": SCOPE,
    "state": {"type": "string", "description": "Handed back with the code."},
    "authorization": closed(
        {
            "client_id": STRING,
            "redirect_uri": STRING,
            "response_type": STRING,
            "scope": STRING,
            "state": STRING,
            "name": STRING,
            "password": STRING,
        },
        optional=(
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "name",
            "password",
        ),
    ),
}

EMPTY = closed({})

UNAVAILABLE = "The database is unavailable; try again."


SIGNED_OUT = answer(
    EMPTY,
    "Signed out (or there was no session); the cookie is expired either way.",
    **{"Set-Cookie": "Expires the session cookie."},
)


def _sign_out(method: str) -> Operation:
    return Operation(
        "End the browser session of the cookie.",
        responses={200: SIGNED_OUT},
        errors={403: "The cookie came with a request from another origin."},
        description=(
            "Revokes the cookie's session and the token behind it."
            + ("  Also answered to POST." if method == "DELETE" else "")
        ),
    )


class OAuthApi:
    app = api_app()
    tag = "OAuth"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- apps -------------------------------------------------------------

    @route(
        app,
        "/api/v1/apps",
        "POST",
        doc=Operation(
            "Register an app.",
            responses={200: answer(ref("App"), "The only time the secret is shown.")},
            fields={
                "client_name": NON_BLANK,
                "redirect_uris": {
                    "anyOf": [_REDIRECT_URIS, {**array(_REDIRECT_URIS), "minItems": 1}],
                    "description": "Absolute URIs without a fragment, space-separated or a list;"
                    " `urn:ietf:wg:oauth:2.0:oob` for the code to be shown.",
                },
                "scopes": APP_SCOPE,
                "scope": {**APP_SCOPE, "description": "Preferred over `scopes`."},
                "website": STRING,
            },
            required=("client_name", "redirect_uris"),
            errors={
                422: (
                    "A blank name or redirect URI, an invalid redirect URI, or a scope other than"
                    " read, write, follow and push."
                )
            },
            description="Without scopes the app gets `read`.",
        ),
    )
    async def create_app(self, call: Call) -> Any:
        params = call.params
        if isinstance(params.get("redirect_uris"), list):
            redirect_uris: str | list[str] | None = params.list("redirect_uris")
        else:
            redirect_uris = params.str("redirect_uris")
        scope = params.get("scope", params.get("scopes"))
        registered = await oauth.register_app(
            self.rt, params.str("client_name"), redirect_uris, scope, params.str("website")
        )
        return views.app(registered)

    @route(
        app,
        "/api/v1/apps/verify_credentials",
        "GET",
        auth=Auth.TOKEN,
        doc=Operation(
            "The app of the token.",
            responses={200: answer(closed({"name": STRING, "website": nullable(STRING)}))},
            errors={403: "No live token, or its app is gone."},
            description="Any live token of the app, acting for an account or app-only.",
        ),
    )
    async def verify_app(self, call: Call) -> Any:
        """Any live token of the app, acting for a user or app-only."""
        assert call.viewer is not None and call.viewer.token is not None
        found = await oauth.app_of_token(self.rt, call.viewer.token.app_id)
        if found is None:
            raise Forbidden(INVALID_CREDENTIALS)
        return views.app_credentials(found)

    # -- the authorize form -------------------------------------------------

    @page(
        app,
        "/oauth/authorize",
        "GET",
        doc=Operation(
            "The login form that authorizes an app.",
            responses={
                200: html("The form, listing the scopes asked for."),
                400: html(
                    "A page saying what is wrong: an unknown client_id, a redirect_uri the app did"
                    " not register, or scopes beyond the app's."
                ),
            },
            fields=AUTHORIZE_FIELDS,
            errors={400: "Malformed parameters.", 503: UNAVAILABLE},
        ),
    )
    async def authorize_form(self, call: Call) -> bytes:
        form = _authorization(call.params)
        target = await self._target(form)
        if isinstance(target, str):
            return self._page(call.request, views.message_page(target), 400)
        found, redirect_uri = target
        try:
            scopes = oauth.granted_scopes(_scopes(form), found.scopes)
        except oauth.OutOfScope:
            return self._page(call.request, views.message_page(oauth.OUT_OF_SCOPE), 400)
        return self._form(call.request, form, found, redirect_uri, scopes, 200)

    @page(
        app,
        "/oauth/authorize",
        "POST",
        doc=Operation(
            "Log in on the form and authorize the app.",
            responses={
                200: Response(
                    "With the out-of-band redirect URI: a page showing the code to copy.",
                    {"type": "string"},
                    "text/html",
                    {"Set-Cookie": "The session cookie."},
                ),
                302: Response(
                    "To the redirect URI with `code` (and `state`); the body links there too.",
                    {"type": "string"},
                    "text/html",
                    {
                        "Location": "The redirect URI with code and state added to its query.",
                        "Set-Cookie": "The session cookie.",
                    },
                ),
                400: html(
                    "A page saying what is wrong: an unknown client_id or a redirect_uri the app"
                    " did not register."
                ),
                401: html("The form again: a wrong name or password, or scopes beyond the app's."),
                403: html("The form again: the account may not log in (deactivated, unconfirmed)."),
                429: Response(
                    "Too many failed logins from this address: a page saying so.",
                    {"type": "string"},
                    "text/html",
                    RATE_LIMITED,
                ),
                503: busy("password checks"),
            },
            fields=AUTHORIZE_FIELDS,
            errors={400: "Malformed parameters."},
            description=(
                "The credentials come as `authorization[name]` and `authorization[password]`."
                "  On success the browser also gets the session cookie."
            ),
        ),
    )
    async def authorize(self, call: Call) -> bytes:
        request = call.request
        form = _authorization(call.params)
        target = await self._target(form)
        if isinstance(target, str):
            return self._page(request, views.message_page(target), 400)
        found, redirect_uri = target
        requested = _scopes(form)

        def again(status: int, message: str) -> bytes:
            shown = requested or found.scopes
            return self._form(request, form, found, redirect_uri, shown, status, message)

        try:
            user = await verify_login(
                self.rt,
                form.str("name") or "",
                form.str("password") or "",
                client_key(request, self.rt.config.proxy.trusted),
            )
            oauth.refuse(user, self.rt.config)
            scopes = oauth.granted_scopes(requested, found.scopes)
        except Throttled as throttled:
            for header, value in throttled.headers.items():
                request.setHeader(header, value)
            return self._page(request, views.message_page(THROTTLED_LOGIN), 429)
        except LoginFailed:
            return again(401, INVALID_LOGIN)
        except oauth.LoginRefused as refused:
            return again(403, refused.message)
        except oauth.OutOfScope:
            return again(401, oauth.OUT_OF_SCOPE)

        authorized = await oauth.authorize(
            self.rt, found, user, scopes, redirect_uri, _session_of(self.rt, request)
        )
        self._set_cookie(request, sign_cookie(self.rt.cookie_secret, authorized.session_id))
        if redirect_uri == oauth.OOB_REDIRECT_URI:
            return self._page(request, views.code_page(authorized.code), 200)
        state = form.str("state")
        location = with_query(
            redirect_uri, {"code": authorized.code, **({"state": state} if state else {})}
        )
        request.setHeader(b"location", location.encode("utf-8"))
        return self._page(request, views.redirect_page(location), 302)

    async def _target(self, form: Params) -> tuple[App, str] | str:
        """The app the form is for and where its answer goes, or why the
        form cannot work."""
        found = await oauth.find_app(self.rt, form.str("client_id"))
        if found is None:
            return UNKNOWN_APP
        redirect_uri = form.str("redirect_uri") or found.redirect_uri_list[0]
        if redirect_uri not in found.redirect_uri_list:
            return UNLISTED_REDIRECT
        return found, redirect_uri

    def _form(
        self,
        request: IRequest,
        form: Params,
        found: App,
        redirect_uri: str,
        scopes: list[str],
        status: int,
        message: str | None = None,
    ) -> bytes:
        body = views.authorize_form(
            app_name=found.client_name,
            client_id=found.client_id,
            redirect_uri=redirect_uri,
            response_type=form.str("response_type") or "code",
            state=form.str("state") or "",
            scopes=scopes,
            name=form.str("name") or "",
            message=message,
        )
        return self._page(request, body, status)

    def _page(self, request: IRequest, body: str, status: int) -> bytes:
        return render_page(request, self.rt.config.instance.name, body, status)

    def _set_cookie(self, request: IRequest, value: str) -> None:
        """Set the ``_pleroma_key`` cookie, or expire it when ``value`` is empty."""
        attributes = ["HttpOnly", "SameSite=Lax", "Path=/"]
        if self.rt.config.server.base_url.startswith("https:"):
            attributes.append("Secure")
        if not value:
            attributes[:0] = ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        cookie = "; ".join([f"{COOKIE_NAME.decode('ascii')}={value}", *attributes])
        request.responseHeaders.addRawHeader(b"set-cookie", cookie.encode("ascii"))

    # -- tokens -------------------------------------------------------------
    # Token, revoke and sign-out are outside the reference's API pipelines
    # and take no Idempotency-Key (a replayed grant would hand out a
    # credential again).

    @route(
        app,
        "/oauth/token",
        "POST",
        idempotency_key=False,
        doc=Operation(
            "Obtain a token.",
            responses={200: answer(ref("Token")), 503: busy("password checks")},
            fields={
                "grant_type": enum(
                    "password", "authorization_code", "client_credentials", "refresh_token"
                ),
                "client_id": {
                    "type": "string",
                    "description": "Or HTTP Basic (client id and secret).",
                },
                "client_secret": STRING,
                "username": {"type": "string", "description": "password: a nickname or e-mail."},
                "password": {"type": "string", "description": "password grant."},
                "scope": {
                    **SCOPE,
                    "description": "password grant: within the app's (all of them when absent).",
                },
                "scopes": SCOPE,
                "code": {"type": "string", "description": "authorization_code grant."},
                "redirect_uri": {
                    "type": "string",
                    "description": "authorization_code: when given, the one the code was issued for.",
                },
                "refresh_token": {
                    "type": "string",
                    "description": "refresh_token grant; the pair is replaced.",
                },
            },
            required=("grant_type",),
            errors={
                400: (
                    "An unknown grant_type or a missing parameter (`Bad request`, `Missing field`),"
                    " or a wrong client, login, code, refresh token or scope (`Invalid credentials`)."
                ),
                403: "The account may not log in: deactivated, or not yet confirmed.",
                429: "password grant: too many failed logins from this address.",
            },
        ),
    )
    async def token(self, call: Call) -> Any:
        params = call.params
        grant_type = params.str("grant_type")
        if grant_type not in oauth.GRANT_TYPES:
            raise BadRequest(BAD_REQUEST)
        client = await oauth.authenticate_client(self.rt, *_client(call.request, params))
        if grant_type == "password":
            granted = await oauth.password_grant(
                self.rt,
                client,
                params.required_str("username"),
                params.required_str("password"),
                client_key(call.request, self.rt.config.proxy.trusted),
                _scopes(params),
            )
        elif grant_type == "authorization_code":
            granted = await oauth.code_grant(
                self.rt, client, params.required_str("code"), params.str("redirect_uri")
            )
        elif grant_type == "client_credentials":
            granted = await oauth.client_credentials_grant(self.rt, client)
        else:
            refresh_token = params.str("refresh_token")
            if not refresh_token:
                raise BadRequest(BAD_REQUEST)
            granted = await oauth.refresh_grant(self.rt, client, refresh_token)
        return views.token(granted.issued, granted.user, oauth.TOKEN_LIFETIME)

    @route(
        app,
        "/oauth/revoke",
        "POST",
        idempotency_key=False,
        doc=Operation(
            "Revoke a token of the app.",
            responses={200: answer(EMPTY, "Whether or not the token (or the client) was valid.")},
            fields={
                "token": {
                    "type": "string",
                    "minLength": 1,
                    "description": "An access or a refresh token.",
                },
                "client_id": {
                    "type": "string",
                    "description": "Or HTTP Basic (client id and secret).",
                },
                "client_secret": STRING,
            },
            required=("token",),
            errors={400: "No token (`Bad request`), or malformed parameters."},
        ),
    )
    async def revoke(self, call: Call) -> Any:
        params = call.params
        token = params.str("token")
        if not token:
            raise BadRequest(BAD_REQUEST)
        await oauth.revoke(self.rt, *_client(call.request, params), token)
        return {}

    # -- the cookie ---------------------------------------------------------

    @route(app, "/auth/sign_out", "DELETE", idempotency_key=False, doc=_sign_out("DELETE"))
    @route(app, "/auth/sign_out", "POST", idempotency_key=False, doc=_sign_out("POST"))
    async def sign_out(self, call: Call) -> Any:
        """Revoke the cookie's session and token and expire the cookie; an
        answer of 200 ``{}`` whether or not there was one."""
        session_id = _session_of(self.rt, call.request)
        if session_id is not None:
            if not same_origin(self.rt, call.request):
                raise Forbidden("Cross-origin request refused")
            await oauth.sign_out(self.rt, session_id)
        self._set_cookie(call.request, "")
        return JsonResponse({})


def _authorization(params: Params) -> Params:
    """The authorize parameters, top-level (clients' links) or nested under
    ``authorization[...]`` (the form's own names), the nested ones winning."""
    values = dict(params)
    nested = params.get("authorization")
    if isinstance(nested, dict):
        values.update(nested)
    if "authorization[scope]" in params:  # authorization[scope][]=... arrives flat
        values["scope"] = params["authorization[scope]"]
    return Params(values)


def _scopes(params: Params) -> list[str]:
    """``scope`` (preferred) or ``scopes``, parsed."""
    return oauth.parse_scopes(params.get("scope", params.get("scopes")))


def _client(request: IRequest, params: Params) -> tuple[str | None, str | None]:
    """Client id and secret: HTTP Basic (each part URL-decoded) when it is
    there and well-formed, else the ``client_id``/``client_secret`` parameters."""
    for header in request.requestHeaders.getRawHeaders(b"authorization") or []:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            continue
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        client_id, colon, secret = decoded.partition(":")
        if colon:
            return unquote_plus(client_id), unquote_plus(secret)
    return params.str("client_id"), params.str("client_secret")


def _session_of(rt: Runtime, request: IRequest) -> str | None:
    """The session id of a genuine ``_pleroma_key`` cookie, if any."""
    cookie = request.getCookie(COOKIE_NAME)
    if not cookie:
        return None
    return verify_cookie(rt.cookie_secret, cookie.decode("latin-1"))


def with_query(uri: str, extra: dict[str, str]) -> str:
    """``uri`` with ``extra`` merged into its query: its own keys kept, ours
    replacing any of the same name."""
    parts = urlsplit(uri)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query = urlencode(kept + list(extra.items()))
    return urlunsplit(parts._replace(query=query))
