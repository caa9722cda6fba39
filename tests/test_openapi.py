"""The OpenAPI document: it names every route the tree serves and no other,
it is valid, and the daemon serves it."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from pleromad.web.auth import Auth
from pleromad.web.root import served_routes
from tests import contract
from tests.conftest import Client


def test_every_route_documents_itself_and_the_document_names_only_routes() -> None:
    """Walks the Klein route maps of every family of the tree: each method
    of each route carries its operation, and the document holds exactly
    those."""
    routes = served_routes()
    undocumented = sorted(f"{r.method} {r.path}" for r in routes if r.doc is None)
    assert undocumented == [], "routes without an operation"
    served = {(r.method, r.path) for r in routes}
    assert len(served) == len(routes) > 90, "a method and path routed twice"
    document = contract.document()
    documented = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert documented == served


def test_security_follows_what_each_route_demands() -> None:
    document = contract.document()
    for route in served_routes():
        described = document["paths"][route.path][route.method.lower()]
        security = described.get("security")
        where = f"{route.method} {route.path}"
        if route.access is None or route.access.auth is Auth.NONE:
            assert security is None, where
            continue
        anonymous_allowed = {} in security
        assert anonymous_allowed == (route.access.auth in (Auth.OPTIONAL, Auth.READ_OR_PUBLIC)), (
            where
        )
        if route.access.scope:
            assert {"oauth2": [route.access.scope]} in security, where
        if route.access.auth in (Auth.REQUIRED, Auth.APP, Auth.TOKEN):
            assert "403" in described["responses"], where


def _schemas(node: Any, at: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object in the document, with where it is."""
    found = []
    if isinstance(node, dict):
        if "schema" in node and isinstance(node["schema"], dict):
            found.append((at + "/schema", node["schema"]))
        for key, value in node.items():
            if key != "schema":
                found += _schemas(value, f"{at}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _schemas(value, f"{at}/{i}")
    return found


def test_the_document_is_well_formed() -> None:
    """Valid OpenAPI 3.1, every schema valid JSON Schema, and every operation
    summarised with at least one success documented."""
    document = contract.document()
    assert document["openapi"].startswith("3.1")
    validate(document)
    for _name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    inline = _schemas(document["paths"])
    assert len(inline) > 200
    for _where, schema in inline:
        Draft202012Validator.check_schema(schema)
    for path, methods in document["paths"].items():
        for method, described in methods.items():
            assert described["summary"], f"{method} {path}"
            assert described["responses"], f"{method} {path}"
            for status, response in described["responses"].items():
                assert response["description"], f"{method} {path} {status}"
            if int(min(described["responses"])) >= 400:
                raise AssertionError(f"{method} {path} documents no success")


@pytest_twisted.ensureDeferred
async def test_the_daemon_serves_its_document(client: Client) -> None:
    r = await client.get("/api/openapi.json")
    assert r.code == 200
    served = await r.json()
    assert served["paths"] == contract.document()["paths"]
    assert served["servers"] == [{"url": "http://localhost:4000"}]
    etag = r.headers.getRawHeaders(b"etag")[0]
    again = await client.get("/api/openapi.json", headers={b"If-None-Match": etag})
    assert again.code == 304
    assert await again.content() == b""
