"""The few HTML pages people see in a browser (login form, reset form, results).

Every value put into a page goes through :func:`html.escape`; pages may not
be framed (the login form must not be clickjacked) and run no script.
"""

from __future__ import annotations

import html

from twisted.web.iweb import IRequest

_STYLE = (
    "body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}"
    "label,input,button{display:block;width:100%;margin:.4em 0}"
    ".alert{padding:.5em;border:1px solid #c33;background:#fee}"
)


def render_page(request: IRequest, title: str, body_html: str, status: int = 200) -> bytes:
    """A complete page; ``body_html`` must already be escaped where it holds data."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"referrer-policy", b"same-origin")
    request.setHeader(b"cache-control", b"no-store")
    safe_title = html.escape(title)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{safe_title}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{safe_title}</h1>{body_html}</body></html>"
    ).encode()
