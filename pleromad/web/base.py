"""What every API family shares: its Klein app, routing, documentation and
JSON rendering.

A family is one capability (statuses, favourites, oauth, ...), whatever URL
prefixes its routes live under: a class with ``app = api_app()``, a ``tag``
(its name in the OpenAPI document) and an ``__init__(self, rt)`` keeping the
:class:`~pleromad.runtime.Runtime` as ``self.rt``; list it in
:data:`pleromad.web.root.CAPABILITIES`, which dispatches by the families'
own route maps.  A family imports helpers (``pagination``, ``listing``,
``uploads``, ...), never another family.  Each route is declared with its
full path and its OpenAPI operation::

    @route(app, "/api/v1/things/<id>", "GET", auth=Auth.READ_OR_PUBLIC,
           doc=Operation("A thing.", responses={200: answer(ref("Thing"))}))
    async def thing(self, call: Call) -> Any: ...

:func:`route` parses parameters and authenticates as the route asks, and
the handler receives one :class:`Call` and returns a JSON-able value or a
:class:`JsonResponse`; :func:`page` declares an HTML page,
:func:`plain_route` a file or other raw answer and
:func:`pleromad.web.prebuilt.prebuilt_route` an answer that is the same for
everyone until something changes.  A handler answering several
methods with different operations takes one decorator per method.  The
document (:mod:`pleromad.openapi.document`) is assembled from the route
map, its security from each route's access.  An ``Idempotency-Key`` is
honoured here too, for every route at once
(:mod:`pleromad.domain.idempotency`).  Errors become ``{"error": message}``
here, in one place: an :class:`~pleromad.errors.ApiError` with its status,
an unknown route 404, an unreachable database 503 and any other exception
a logged 500 whose details never reach the client.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pleromad.auth.realm import Viewer
from pleromad.db.pool import DatabaseUnavailable
from pleromad.domain import idempotency
from pleromad.domain.idempotency import Answer, json_text
from pleromad.domain.rate_limits import Allowance, headers
from pleromad.errors import ApiError
from pleromad.model import Claim, User
from pleromad.openapi.spec import Operation
from pleromad.runtime import Runtime
from pleromad.views.encoding import json_bytes
from pleromad.web.auth import Auth, authenticate
from pleromad.web.negotiation import JSON, check_accept
from pleromad.web.params import Params, read_params

log = Logger()

JSON_CONTENT_TYPE = b"application/json; charset=utf-8"
IDEMPOTENCY_KEY = b"idempotency-key"
# Every answer's, set by the gateway (pleromad.web.site).
REQUEST_ID = b"x-request-id"
# The methods whose Idempotency-Key is honoured, as the reference's.
_IDEMPOTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """Everything a handler gets about the request it serves."""

    request: IRequest
    params: Params
    viewer: Viewer | None
    # The Idempotency-Key this request runs under, for a handler that
    # remembers its answer in the transaction of its effect (exactly once).
    claim: Claim | None = None

    @property
    def user(self) -> User:
        """The authenticated user, on routes that require one."""
        assert self.viewer is not None and self.viewer.user is not None
        return self.viewer.user

    @property
    def reader(self) -> User | None:
        """The user whose view a reading route answers with: the viewer, if
        its credentials may read (a token without ``read`` sees what anyone
        sees); None for anyone else."""
        viewer = self.viewer
        if viewer is None or viewer.user is None or not viewer.allows("read"):
            return None
        return viewer.user


@dataclass(frozen=True)
class Access:
    """Who may call a :func:`route`, with which OAuth scope, and whether
    it honours an ``Idempotency-Key``."""

    auth: Auth
    scope: str | None
    idempotency_key: bool = True

    def remembers(self, method: str) -> bool:
        """Whether a user's ``method`` request here is answered once per
        ``Idempotency-Key`` (DECISIONS 26): POST, PUT and PATCH of routes
        that did not opt out and that a user (not an app, not anonymous)
        may call."""
        return (
            self.idempotency_key
            and method in _IDEMPOTENT_METHODS
            and self.auth not in (Auth.NONE, Auth.APP)
        )


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
    return write_json_bytes(request, json_bytes(body), status, headers)


def write_json_bytes(
    request: IRequest,
    body: bytes,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Answer ``body`` (JSON in UTF-8) with ``status`` and ``headers``."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", JSON_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        request.setHeader(name.encode("ascii"), value.encode("utf-8"))
    return body


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
    idempotency_key: bool = True,
    accept: tuple[str, ...] = JSON,
    doc: Operation | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a JSON endpoint of ``app``: ``auth`` says who may call it,
    ``scope`` which OAuth scope a token needs for it; ``idempotency_key``
    False opts it out of Idempotency-Key (see :meth:`Access.remembers`);
    ``accept`` is what an ``Accept`` header must admit (else 406); ``doc``
    is its OpenAPI operation."""
    access = Access(auth, scope, idempotency_key)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(self: Any, request: IRequest, **path_args: str) -> bytes:
            check_accept(request, accept)
            params = await read_params(request, path_args)
            viewer = (
                None
                if auth is Auth.NONE
                else await authenticate(self.rt, request, params, auth, scope)
            )
            call = Call(request, params, viewer)
            key = _idempotency_key(call, access)
            if key is None:
                return render(request, await handler(self, call))
            return await _answer_once(
                self.rt, call, key, lambda claim: handler(self, replace(call, claim=claim))
            )

        # Klein copies these onto the endpoint it keeps, for the route map.
        endpoint.access = access  # type: ignore[attr-defined]
        add_route(app, path, methods, endpoint, doc)
        return handler

    return decorate


def _idempotency_key(call: Call, access: Access) -> str | None:
    """The request's Idempotency-Key, when its route honours one from its caller."""
    method = call.request.method.decode("ascii")
    if call.viewer is None or call.viewer.user is None or not access.remembers(method):
        return None
    return idempotency.requested_key(
        call.request.requestHeaders.getRawHeaders(IDEMPOTENCY_KEY) or []
    )


async def _answer_once(
    rt: Runtime, call: Call, key: str, respond: Callable[[Claim], Awaitable[Any]]
) -> bytes:
    """The answer remembered under ``key`` for the caller's request (method
    and path), or ``respond``'s; both carry the key, a replay says so."""

    async def run(claim: Claim) -> Answer:
        result = await respond(claim)
        response = result if isinstance(result, JsonResponse) else JsonResponse(result)
        return Answer(response.status, json_text(response.body), response.headers)

    request = f"{call.request.method.decode('ascii')} {call.request.path.decode('latin-1')}"
    request_id = (call.request.responseHeaders.getRawHeaders(REQUEST_ID) or [b""])[0]
    answer = await idempotency.once(
        rt, call.user.id, key, request, run, request_id=request_id.decode("ascii")
    )
    replayed = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    original = (
        {"X-Original-Request-Id": answer.original_request_id} if answer.original_request_id else {}
    )
    return write_json_bytes(
        call.request,
        answer.body.encode("utf-8"),
        answer.status,
        {**answer.headers, "Idempotency-Key": key, **replayed, **original},
    )


def page(
    app: Klein, path: str, *methods: str, doc: Operation | None = None
) -> Callable[[PageHandler], PageHandler]:
    """Declare an HTML page of ``app`` for people in a browser: no
    authentication here; the handler returns the page's bytes (see
    :func:`pleromad.web.pages.render_page`)."""

    def decorate(handler: PageHandler) -> PageHandler:
        @functools.wraps(handler)
        async def endpoint(self: Any, request: IRequest, **path_args: str) -> bytes:
            params = await read_params(request, path_args)
            return await handler(self, Call(request, params, None))

        add_route(app, path, methods, endpoint, doc)
        return handler

    return decorate


def plain_route(
    app: Klein, path: str, *methods: str, doc: Operation | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a plain Klein route of ``app`` (files, prebuilt answers): its
    handler gets the request and the path's values, reads no parameters and
    no credentials."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        add_route(app, path, methods, handler, doc)
        return handler

    return decorate


def add_route(
    app: Klein,
    path: str,
    methods: tuple[str, ...],
    endpoint: Callable[..., Any],
    doc: Operation | None,
) -> None:
    """Route ``endpoint`` with its OpenAPI operation on it (Klein keeps the
    attributes); a handler may be routed once per method, each with its own."""
    endpoint.doc = doc  # type: ignore[attr-defined]
    name = f"{endpoint.__name__} {' '.join(methods)}"
    app.route(path, methods=list(methods), endpoint=name)(endpoint)


@dataclass(frozen=True)
class ServedRoute:
    """One method on one path of a family, as its Klein map routes it."""

    method: str
    path: str  # as werkzeug writes it: /api/v1/accounts/<id>
    tag: str  # the family's
    access: Access | None  # None: a plain Klein route or an HTML page
    doc: Operation | None


def served_routes(families: Iterable[type]) -> list[ServedRoute]:
    """Every method and path ``families`` route, from their Klein maps;
    HEAD, which werkzeug adds to every GET, and OPTIONS are left out."""
    found = []
    for family in families:
        app = family.app  # type: ignore[attr-defined]
        for rule in app.url_map.iter_rules():
            endpoint = app.endpoints[rule.endpoint]
            found += [
                ServedRoute(
                    method,
                    rule.rule,
                    family.tag,  # type: ignore[attr-defined]
                    getattr(endpoint, "access", None),
                    getattr(endpoint, "doc", None),
                )
                for method in sorted(rule.methods or ())
                if method not in ("HEAD", "OPTIONS")
            ]
    return found


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
    # Klein's error-handler protocol names the first argument (the instance) self.
    app.handle_errors(ApiError)(_api_error)
    app.handle_errors(NotFound, MethodNotAllowed)(_no_route)
    app.handle_errors(DatabaseUnavailable)(_unavailable)
    app.handle_errors(Exception)(_unexpected)
    return app


def _api_error(self: Any, request: IRequest, failure: Failure) -> bytes:
    err = cast(ApiError, failure.value)  # the handler is registered for ApiError only
    return write_json(request, err.body(), err.status, err.headers)


def _no_route(self: Any, request: IRequest, failure: Failure) -> bytes:
    # The reference answers unknown API routes (any method) this way.
    if request.path.startswith(b"/api"):
        return write_json(request, {"error": "Not implemented"}, 404)
    return write_json(request, {"error": "Not found"}, 404)


def _unavailable(self: Any, request: IRequest, failure: Failure) -> bytes:
    log.warn(
        "database unavailable for {method} {path}: {why}",
        method=request.method,
        path=request.path,
        why=failure.value,
    )
    return write_json(request, {"error": "Service unavailable"}, 503)


def _unexpected(self: Any, request: IRequest, failure: Failure) -> bytes:
    log.failure(
        "unexpected error serving {method} {path}",
        failure,
        method=request.method,
        path=request.path,
    )
    return write_json(request, {"error": "Internal server error"}, 500)
