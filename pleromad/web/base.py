"""What every API family shares: its Klein app, routing and JSON rendering.

Each family is a class with ``app = api_app()`` and an ``rt`` attribute (the
:class:`~pleromad.runtime.Runtime`); its handlers are declared with
:func:`route`, which parses parameters and authenticates as the route asks,
and receive one :class:`Call`; they return a JSON-able value or a
:class:`JsonResponse`.  Errors become
``{"error": message}`` here, in one place: an :class:`~pleromad.errors.ApiError`
with its status, an unknown route 404, an unreachable database 503 and any
other exception a logged 500 whose details never reach the client.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pleromad.db.pool import DatabaseUnavailable
from pleromad.domain.rate_limits import Allowance, headers
from pleromad.errors import ApiError
from pleromad.auth.realm import Viewer
from pleromad.store.users import User
from pleromad.web.auth import Auth, authenticate
from pleromad.web.params import Params, read_params

log = Logger()

JSON_CONTENT_TYPE = b"application/json; charset=utf-8"

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """Everything a handler gets about the request it serves."""

    request: IRequest
    params: Params
    viewer: Viewer | None

    @property
    def user(self) -> User:
        """The authenticated user, on routes that require one."""
        assert self.viewer is not None and self.viewer.user is not None
        return self.viewer.user


@dataclass(frozen=True)
class Access:
    """Who may call a :func:`route` and with which OAuth scope."""

    auth: Auth
    scope: str | None


Handler = Callable[[Any, Call], Awaitable[Any]]
PageHandler = Callable[[Any, Call], Awaitable[bytes]]


@dataclass(frozen=True)
class JsonResponse:
    """A JSON answer with a status or headers other than a plain 200."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


def write_json(
    request: IRequest,
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", JSON_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        request.setHeader(name.encode("ascii"), value.encode("utf-8"))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(request: IRequest, result: Any) -> bytes:
    if isinstance(result, JsonResponse):
        return write_json(request, result.body, result.status, result.headers)
    return write_json(request, result)


def route(
    app: Klein,
    path: str,
    *methods: str,
    auth: Auth = Auth.NONE,
    scope: str | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a JSON endpoint of ``app``: ``auth`` says who may call it and
    ``scope`` which OAuth scope a token needs for it."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(self: Any, request: IRequest, **path_args: str) -> bytes:
            params = await read_params(request, path_args)
            viewer = (
                None
                if auth is Auth.NONE
                else await authenticate(self.rt, request, params, auth, scope)
            )
            return render(request, await handler(self, Call(request, params, viewer)))

        # Klein copies this onto the endpoint it keeps, for the route map.
        endpoint.access = Access(auth, scope)  # type: ignore[attr-defined]
        app.route(path, methods=list(methods))(endpoint)
        return handler

    return decorate


def page(app: Klein, path: str, *methods: str) -> Callable[[PageHandler], PageHandler]:
    """Declare an HTML page of ``app`` for people in a browser: no
    authentication here; the handler returns the page's bytes (see
    :func:`pleromad.web.pages.render_page`)."""

    def decorate(handler: PageHandler) -> PageHandler:
        @app.route(path, methods=list(methods))
        @functools.wraps(handler)
        async def endpoint(self: Any, request: IRequest, **path_args: str) -> bytes:
            params = await read_params(request, path_args)
            return await handler(self, Call(request, params, None))

        return handler

    return decorate


@contextmanager
def rate_limit_headers(allowance: Allowance) -> Iterator[None]:
    """Errors raised inside carry the rate limit's headers too (DECISIONS 27)."""
    try:
        yield
    except ApiError as e:
        e.headers = {**headers(allowance), **e.headers}
        raise


def api_app() -> Klein:
    """A Klein app that answers every failure as a JSON error."""
    app = Klein()
    # werkzeug would answer "//" in a path with a redirect exception (a 500 here).
    app.url_map.merge_slashes = False
    app.handle_errors(ApiError)(_api_error)
    app.handle_errors(NotFound, MethodNotAllowed)(_no_route)
    app.handle_errors(DatabaseUnavailable)(_unavailable)
    app.handle_errors(Exception)(_unexpected)
    return app


def _api_error(instance: Any, request: IRequest, failure: Failure) -> bytes:
    err = failure.value
    return write_json(request, err.body(), err.status, err.headers)


def _no_route(instance: Any, request: IRequest, failure: Failure) -> bytes:
    # The reference answers unknown API routes (any method) this way.
    if request.path.startswith(b"/api"):
        return write_json(request, {"error": "Not implemented"}, 404)
    return write_json(request, {"error": "Not found"}, 404)


def _unavailable(instance: Any, request: IRequest, failure: Failure) -> bytes:
    log.warn(
        "database unavailable for {method} {path}: {why}",
        method=request.method, path=request.path, why=failure.value,
    )
    return write_json(request, {"error": "Service unavailable"}, 503)


def _unexpected(instance: Any, request: IRequest, failure: Failure) -> bytes:
    log.failure(
        "unexpected error serving {method} {path}",
        failure, method=request.method, path=request.path,
    )
    return write_json(request, {"error": "Internal server error"}, 500)
