"""OAuth entities (app, token) and the bodies of the authorize pages.

Page bodies are HTML fragments for :func:`pleromad.web.pages.render_page`;
every value in them is escaped here.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pleromad.model import App, IssuedToken, User

AUTHORIZE_PATH = "/oauth/authorize"


def app(registered: App) -> dict[str, Any]:
    """The answer to app registration; the only time the secret is shown."""
    return {
        "id": str(registered.id),
        "name": registered.client_name,
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "redirect_uri": registered.redirect_uris,
        "website": registered.website,
    }


def app_credentials(owner: App) -> dict[str, Any]:
    """What ``GET /api/v1/apps/verify_credentials`` tells a token's holder."""
    return {"name": owner.client_name, "website": owner.website}


def token(issued: IssuedToken, user: User | None, expires_in: int) -> dict[str, Any]:
    """The token endpoint's answer; ``me`` only for a token acting for a user."""
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in": expires_in,
        "scope": " ".join(issued.token.scopes),
        "created_at": int(issued.token.created_at.timestamp()),
    }
    if user is not None:
        body["me"] = user.ap_id
    return body


def authorize_form(
    *,
    app_name: str,
    client_id: str,
    redirect_uri: str,
    response_type: str,
    state: str,
    scopes: list[str],
    name: str = "",
    message: str | None = None,
) -> str:
    """The login form of ``GET /oauth/authorize``, its fields named
    ``authorization[...]`` as the reference's; the password is never echoed."""
    hidden = [
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", response_type),
        ("scope", " ".join(scopes)),
    ]
    if state:
        hidden.append(("state", state))
    hidden_inputs = "".join(
        f'<input type="hidden" name="authorization[{field}]" value="{escape(value)}">'
        for field, value in hidden
    )
    scope_items = "".join(f"<li>{escape(scope)}</li>" for scope in scopes)
    return (
        f"{_alert(message)}"
        f"<p><strong>{escape(app_name)}</strong> asks to use your account with"
        f" these permissions:</p><ul>{scope_items}</ul>"
        f'<form method="post" action="{AUTHORIZE_PATH}">'
        f'<label for="name">Username</label>'
        f'<input id="name" type="text" name="authorization[name]" value="{escape(name)}"'
        f' autocomplete="username" autocapitalize="off" required autofocus>'
        f'<label for="password">Password</label>'
        f'<input id="password" type="password" name="authorization[password]"'
        f' autocomplete="current-password" required>'
        f"{hidden_inputs}"
        f'<button type="submit">Log In</button>'
        f"</form>"
    )


def code_page(code: str) -> str:
    """The out-of-band answer: the code to copy, inside ``<code>`` (DECISIONS 28)."""
    return (
        "<h2>Successfully authorized</h2>"
        "<p>Copy this code into your application:</p>"
        f"<p><code>{escape(code)}</code></p>"
    )


def message_page(message: str) -> str:
    """A page that only says what went wrong."""
    return _alert(message)


def redirect_page(location: str) -> str:
    """The body of a redirect, for user agents that do not follow it."""
    return f'<p><a href="{escape(location)}">Continue</a></p>'


def _alert(message: str | None) -> str:
    return f'<p class="alert">{escape(message)}</p>' if message else ""
