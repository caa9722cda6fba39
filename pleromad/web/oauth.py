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


class OAuthApi:
    app = api_app()
    prefixes = (
        "/oauth",
        "/auth",
        "/api/v1/apps",
    )

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- apps -------------------------------------------------------------

    @route(app, "/api/v1/apps", "POST")
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

    @route(app, "/api/v1/apps/verify_credentials", "GET", auth=Auth.TOKEN)
    async def verify_app(self, call: Call) -> Any:
        """Any live token of the app, acting for a user or app-only."""
        assert call.viewer is not None and call.viewer.token is not None
        found = await oauth.app_of_token(self.rt, call.viewer.token.app_id)
        if found is None:
            raise Forbidden(INVALID_CREDENTIALS)
        return views.app_credentials(found)

    # -- the authorize form -------------------------------------------------

    @page(app, "/oauth/authorize", "GET")
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

    @page(app, "/oauth/authorize", "POST")
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

    @route(app, "/oauth/token", "POST", idempotency_key=False)
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

    @route(app, "/oauth/revoke", "POST", idempotency_key=False)
    async def revoke(self, call: Call) -> Any:
        params = call.params
        token = params.str("token")
        if not token:
            raise BadRequest(BAD_REQUEST)
        await oauth.revoke(self.rt, *_client(call.request, params), token)
        return {}

    # -- the cookie ---------------------------------------------------------

    @route(app, "/auth/sign_out", "DELETE", "POST", idempotency_key=False)
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
