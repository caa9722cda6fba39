"""OAuth: registering apps, the authorize form, tokens, revocation and the
cookie's sign-out (:mod:`pleromad.web.oauth`)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    ID,
    RATE_LIMITED,
    STRING,
    Operation,
    Response,
    answer,
    array,
    closed,
    enum,
    html,
    nullable,
    ref,
)

TAG = "OAuth"

SCOPE = {
    "anyOf": [STRING, array(STRING)],
    "description": "Scopes separated by spaces or commas (or a list of such strings).",
}

SCHEMAS = {
    "App": closed(
        {
            "id": ID,
            "name": STRING,
            "client_id": STRING,
            "client_secret": STRING,
            "redirect_uri": {
                "type": "string",
                "description": "The redirect URIs as registered (several are space-separated).",
            },
            "website": nullable(STRING),
        }
    ),
    "Token": closed(
        {
            "token_type": {"const": "Bearer"},
            "access_token": STRING,
            "refresh_token": STRING,
            "expires_in": {
                "type": "integer",
                "description": "Reported for clients that want one; tokens never expire.",
            },
            "scope": {"type": "string", "description": "The granted scopes, space-separated."},
            "created_at": {"type": "integer", "description": "Unix time."},
            "me": {"type": "string", "description": "The account's ActivityPub id."},
        },
        optional=("me",),
    ),
}
SCHEMAS["Token"]["description"] = (
    "`me` only for a token acting for an account (not client_credentials)."
)

# The parameters of the authorize form, top-level (a client's link) or
# nested as authorization[...] (the form's own names, which win).
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


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/v1/apps"): Operation(
        "Register an app.",
        responses={200: answer(ref("App"), "The only time the secret is shown.")},
        fields={
            "client_name": STRING,
            "redirect_uris": {
                "anyOf": [STRING, array(STRING)],
                "description": "Absolute URIs without a fragment, space-separated or a list;"
                " `urn:ietf:wg:oauth:2.0:oob` for the code to be shown.",
            },
            "scopes": SCOPE,
            "scope": {**SCOPE, "description": "Preferred over `scopes`."},
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
    ("GET", "/api/v1/apps/verify_credentials"): Operation(
        "The app of the token.",
        responses={200: answer(closed({"name": STRING, "website": nullable(STRING)}))},
        errors={403: "No live token, or its app is gone."},
        description="Any live token of the app, acting for an account or app-only.",
    ),
    ("GET", "/oauth/authorize"): Operation(
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
    ("POST", "/oauth/authorize"): Operation(
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
        },
        fields=AUTHORIZE_FIELDS,
        errors={400: "Malformed parameters.", 503: UNAVAILABLE},
        description=(
            "The credentials come as `authorization[name]` and `authorization[password]`."
            "  On success the browser also gets the session cookie."
        ),
    ),
    ("POST", "/oauth/token"): Operation(
        "Obtain a token.",
        responses={200: answer(ref("Token"))},
        fields={
            "grant_type": enum(
                "password", "authorization_code", "client_credentials", "refresh_token"
            ),
            "client_id": {"type": "string", "description": "Or HTTP Basic (client id and secret)."},
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
    ("POST", "/oauth/revoke"): Operation(
        "Revoke a token of the app.",
        responses={200: answer(EMPTY, "Whether or not the token (or the client) was valid.")},
        fields={
            "token": {"type": "string", "description": "An access or a refresh token."},
            "client_id": {"type": "string", "description": "Or HTTP Basic (client id and secret)."},
            "client_secret": STRING,
        },
        required=("token",),
        errors={400: "No token (`Bad request`), or malformed parameters."},
    ),
    ("DELETE", "/auth/sign_out"): _sign_out("DELETE"),
    ("POST", "/auth/sign_out"): _sign_out("POST"),
}
