"""The whole document, assembled from the route map: each route carries its
operation (``doc``), its family's tag and its access.

Security is not written by hand: each operation gets it from the
:class:`~pleromad.web.base.Access` its route declares, so the document
says exactly what the code demands.  The errors every route shares are
added here too, and so is ``Idempotency-Key`` where the route honours it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pleromad import __version__
from pleromad.domain.idempotency import KEY_LIMIT
from pleromad.openapi.entities import SCHEMAS
from pleromad.openapi.spec import (
    FILE,
    ID,
    STRING,
    TEXT,
    Operation,
    Response,
    Schema,
    ref,
)
from pleromad.web.auth import COOKIE_NAME, Auth
from pleromad.web.base import Access, ServedRoute

SCOPES = {
    "read": "Read the account's data.",
    "write": "Change the account's data and post.",
    "follow": "Follow, block and mute.",
    "push": "Web push subscriptions.",
}

SECURITY_SCHEMES = {
    "oauth2": {
        "type": "oauth2",
        "description": "A Bearer token (also accepted as the `access_token` parameter).",
        "flows": {
            "password": {"tokenUrl": "/oauth/token", "scopes": SCOPES},
            "authorizationCode": {
                "authorizationUrl": "/oauth/authorize",
                "tokenUrl": "/oauth/token",
                "scopes": SCOPES,
            },
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPES},
        },
    },
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE_NAME.decode("ascii"),
        "description": "The session the authorize form sets; changes must come from our own origin.",
    },
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "Nickname or e-mail, and password.",
    },
}

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PLACEHOLDER = re.compile(r"{([^}]+)}")
_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": KEY_LIMIT},
    "description": (
        "Answer this request once: sent again by the same user to the same method and"
        " path with the same key within 6 hours, it is not run again and gets the first"
        " answer (only an answer below 400 is remembered).  Requests without a user,"
        " with an empty key or with more than one are not remembered."
    ),
}
_IDEMPOTENCY_HEADERS = {
    "Idempotency-Key": {"description": "The key sent, when one was.", "schema": STRING},
    "Idempotent-Replayed": {
        "description": "`true` when this answer is the first one given again.",
        "schema": STRING,
    },
    "X-Original-Request-Id": {
        "description": "Under a key: the X-Request-Id of the request that gave this answer first.",
        "schema": STRING,
    },
}


def build_document(base_url: str, routes: Iterable[ServedRoute]) -> dict[str, Any]:
    """The document of the daemon serving ``routes`` (paths as OpenAPI
    writes them) at ``base_url``; a route without an operation is left out
    (the route map test reports it)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.method, r.path)):
        if route.doc is None:
            continue
        assert route.method.lower() not in paths.get(route.path, {}), f"{route} is routed twice"
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route.method, route.path, route.tag, route.doc, route.access
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pleromad",
            "version": __version__,
            "description": (
                "The Pleroma API as pleromad serves it.  Parameters may come in the query"
                " string or in a JSON, urlencoded or multipart body, whatever the method."
                '  Every error is answered as {"error": message}.  No text may hold a NUL'
                " character (a 400)."
            ),
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(
    method: str, path: str, tag: str, operation: Operation, access: Access | None
) -> dict[str, Any]:
    described: dict[str, Any] = {"tags": [tag], "summary": operation.summary}
    if operation.description:
        described["description"] = operation.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(operation, name)}
        for name in _PLACEHOLDER.findall(path)
    ]
    if method in ("GET", "DELETE"):
        parameters += [
            _query_parameter(name, schema, name in operation.required)
            for name, schema in operation.fields.items()
        ]
    elif operation.fields or operation.files:
        described["requestBody"] = _request_body(operation)
    remembers = access is not None and access.remembers(method)
    if remembers:
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        described["parameters"] = parameters
    described["responses"] = _responses(method, operation, access)
    if remembers:
        for status, response in described["responses"].items():
            if int(status) < 400:
                response["headers"] = {**response.get("headers", {}), **_IDEMPOTENCY_HEADERS}
    if access is not None:
        security = _security(access)
        if security is not None:
            described["security"] = security
    return described


def _path_schema(operation: Operation, name: str) -> Schema:
    """What the operation says of a path parameter; an ``{id}`` is an id."""
    return operation.path.get(name, ID if name == "id" else STRING)


def _query_parameter(name: str, schema: Schema, required: bool) -> dict[str, Any]:
    if schema.get("type") == "array":
        # Sent as name[]=a&name[]=b, as Mastodon clients do.
        return {
            "name": name + "[]",
            "in": "query",
            "required": required,
            "schema": schema,
            "style": "form",
            "explode": True,
        }
    if schema.get("type") == "object":
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema,
            "style": "deepObject",
            "explode": True,
        }
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _request_body(operation: Operation) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media_type in _BODY_TYPES:
        fields = dict(operation.fields)
        if media_type == "multipart/form-data":
            fields.update(operation.files)
        elif _needs_a_file(operation):
            continue  # a file it needs cannot come in this encoding
        required = [name for name in operation.required if name in fields]
        schema: Schema = {"type": "object", "properties": fields}
        if media_type == "multipart/form-data":
            # A body of no part is malformed; a part whose name holds a NUL
            # is not read at all, and every part is text or a file.
            schema["minProperties"] = 1
        else:
            schema["propertyNames"] = TEXT
        if media_type == "application/json":
            schema["additionalProperties"] = ref("Json")
        if required:
            schema["required"] = required
        if operation.any_of:
            schema["anyOf"] = list(operation.any_of)
        entry: dict[str, Any] = {"schema": schema}
        nested = [name for name, field in fields.items() if field.get("type") == "object"]
        if nested and media_type != "application/json":
            entry["encoding"] = {name: {"style": "deepObject", "explode": True} for name in nested}
        content[media_type] = entry
    return {"required": bool(operation.required or operation.any_of), "content": content}


def _needs_a_file(operation: Operation) -> bool:
    """Whether every body the operation takes carries a file."""
    files = set(operation.files) - set(operation.fields)
    if any(name in files for name in operation.required):
        return True
    rules = operation.any_of
    return bool(rules) and all(set(rule.get("required", ())) & files for rule in rules)


def _responses(method: str, operation: Operation, access: Access | None) -> dict[str, Any]:
    answered: dict[str, Any] = {
        str(status): _response(response) for status, response in operation.responses.items()
    }
    # An operation may answer a shared error status with another body (a
    # response of its own replaces the shared {"error": ...} one).
    errors = {
        status: when
        for status, when in _shared_errors(method, access).items()
        if status not in operation.responses
    }
    errors.update(operation.errors)
    for status, when in sorted(errors.items()):
        described = answered.get(str(status))
        if described is not None:
            # An answer of another media type (an HTML page, say) that the
            # operation also gives as {"error": ...}: Content-Type tells them apart.
            content = described.setdefault("content", {})
            assert "application/json" not in content, f"{status} is both a JSON answer and an error"
            content["application/json"] = {"schema": ref("Error")}
            described["description"] += f'  As JSON {{"error": ...}}: {when}'
            continue
        answered[str(status)] = {
            "description": when,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return dict(sorted(answered.items()))


def _response(response: Response) -> dict[str, Any]:
    described: dict[str, Any] = {"description": response.description}
    if response.media_type is not None:
        schema = response.schema if response.schema is not None else FILE
        described["content"] = {response.media_type: {"schema": schema}}
        for media_type, alternative in response.alternatives.items():
            described["content"][media_type] = {"schema": alternative}
    if response.headers:
        described["headers"] = {
            name: {"description": text, "schema": STRING} for name, text in response.headers.items()
        }
    return described


def _shared_errors(method: str, access: Access | None) -> dict[int, str]:
    errors = {
        400: "Malformed parameters or a path that is not UTF-8.",
        404: "No such route (or method) here.",
    }
    if method in _UNSAFE:
        errors[413] = "The body is over the upload limit."
    if access is None:
        return errors
    errors[503] = "The database is unavailable; try again."
    errors[406] = "An Accept header that admits no JSON."
    if access.remembers(method):
        errors[400] = (
            "Malformed parameters, a path that is not UTF-8, or an Idempotency-Key over"
            f" {KEY_LIMIT} characters."
        )
        errors[409] = "A request with this Idempotency-Key is still in progress; try again."
    if access.auth is not Auth.NONE:
        errors[429] = "Too many failed password logins (HTTP Basic) from this address."
        errors[503] = (
            "The database is unavailable, or too many password checks (HTTP Basic) are"
            " waiting for the CPU; try again."
        )
    if access.auth in (Auth.REQUIRED, Auth.APP, Auth.TOKEN):
        errors[403] = "Invalid credentials, or a token without the scope the route needs."
    elif access.auth is not Auth.NONE and method in _UNSAFE:
        errors[403] = "A session cookie sent from another origin."
    return errors


def _security(access: Access) -> list[dict[str, list[str]]] | None:
    scopes = [access.scope] if access.scope else []
    if access.auth is Auth.NONE:
        return None
    if access.auth in (Auth.APP, Auth.TOKEN):
        return [{"oauth2": scopes}]
    user: list[dict[str, list[str]]] = [{"oauth2": scopes}, {"cookie": []}, {"basic": []}]
    if access.auth is Auth.REQUIRED:
        return user
    if access.auth is Auth.READ_OR_PUBLIC:
        user[0] = {"oauth2": ["read"]}
    return [{}, *user]
