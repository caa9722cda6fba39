"""Every answer a test receives, checked against the OpenAPI document.

The test client (:class:`tests.conftest.Client`) hands each response it gets
from the daemon's real tree to :func:`check`: its status must be one the
document gives for that method and path, and a JSON body must match the
schema documented for that status.  A route the document does not know
may only answer an error.  So a test that exercises a route also checks
the document's word for it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from pleromad.openapi.document import build_document
from pleromad.web.root import DOCUMENTED_AS, served_routes
from pleromad.web.site import METHOD_OVERRIDES, normalised_path

DOCUMENT_URL = "urn:pleromad:openapi"


@dataclass(frozen=True)
class Template:
    path: str
    exact: re.Pattern[str]
    pattern: re.Pattern[str]
    placeholders: int


@functools.cache
def document() -> dict[str, Any]:
    return build_document("http://127.0.0.1", served_routes())


@functools.cache
def _templates() -> tuple[Template, ...]:
    found = []
    for path in document()["paths"]:
        pieces = re.split(r"({[^}]+})", path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces)
        # A last placeholder may span segments (/media/{path}, /emoji/{relpath}).
        tail = re.sub(r"\[\^/\]\+$", ".+", regex)
        found.append(
            Template(
                path, re.compile(f"^{regex}$"), re.compile(f"^(?:{regex}|{tail})$"), path.count("{")
            )
        )
    # Literal segments win: /accounts/search before /accounts/{id}.
    return tuple(sorted(found, key=lambda t: t.placeholders))


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(
        DOCUMENT_URL,
        Resource.from_contents(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **document()}
        ),
    )


def documented_path(url: str) -> str:
    """The path a request reaches, as the gateway normalises it, in the
    document's spelling."""
    segments = normalised_path(urlsplit(url).path.encode("utf-8").split(b"/")[1:])
    path = unquote(b"/".join([b"", *segments]).decode("utf-8"))
    return DOCUMENTED_AS.get(path, path)


def operation_for(method: str, url: str) -> tuple[str, dict[str, Any]] | None:
    path = documented_path(url)
    # A template matching segment for segment wins over one whose last
    # placeholder spans segments (/users/{nickname}/permission_group over
    # /users/{nickname}).
    for exact in (True, False):
        for template in _templates():
            if (template.exact if exact else template.pattern).match(path):
                described = document()["paths"][template.path].get(method.lower())
                if described is not None:
                    return template.path, described
    return None


def routed_method(method: str, data: Any) -> str:
    """The method the daemon routes a request as: a POST whose form (a
    dict) or JSON body (bytes) says ``_method`` is that method."""
    if method != "POST":
        return method
    if isinstance(data, bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return method
    override = data.get("_method") if isinstance(data, dict) else None
    if isinstance(override, str) and override.upper() in METHOD_OVERRIDES:
        return override.upper()
    return method


def check(method: str, url: str, status: int, content_type: str | None, body: bytes) -> None:
    """Fail unless this answer is one the document promises."""
    if method in ("HEAD", "OPTIONS"):
        return
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    is_json = _json_ish(media_type)
    where = f"{method} {url} -> {status}"
    found = operation_for(method, url)
    if found is None:
        assert status in (400, 404, 413), f"{where}: an undocumented route answered"
        _validate(where, body, "/components/schemas/Error", is_json)
        return
    path, operation = found
    response = operation["responses"].get(str(status))
    assert response is not None, (
        f"{where}: status not documented for {method} {path}"
        f" (documented: {sorted(operation['responses'])})"
    )
    content = response.get("content", {})
    # With several media types, the answer's own Content-Type picks the one to check.
    documented = [t for t in content if _json_ish(t)]
    if is_json and media_type in content:
        checked = media_type
    elif documented and (is_json or len(content) == 1):
        checked = documented[0]
    elif is_json and status != 204:
        raise AssertionError(f"{where}: a JSON body where the document says {sorted(content)}")
    else:
        return
    pointer = "/".join(
        (
            "",
            "paths",
            _escape(path),
            method.lower(),
            "responses",
            str(status),
            "content",
            _escape(checked),
            "schema",
        )
    )
    _validate(where, body, pointer, is_json)


def _json_ish(media_type: str) -> bool:
    """JSON or a JSON-based type (``application/activity+json``, ``application/jrd+json``)."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _validate(where: str, body: bytes, pointer: str, is_json: bool) -> None:
    """Validate against the schema at ``pointer`` in the document, where its
    ``#/components/...`` references resolve."""
    assert is_json, f"{where}: the document promises JSON"
    instance = json.loads(body)
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URL}#{pointer}"},
        registry=_registry(),
        format_checker=FormatChecker(),
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(
            f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
        )
        raise AssertionError(f"{where}: the body does not match the document:\n{details}")


def _escape(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")
