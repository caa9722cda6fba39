"""The twisted.web Site and the gateway in front of the Klein tree.

The gateway does what must happen to every request before routing: CORS,
the reference's path leniency (a trailing slash, a ``.json`` suffix) and the
body size limit.  It also counts requests in flight so that shutdown can let
them finish.
"""

from __future__ import annotations

import os
from io import BytesIO
from typing import Any, cast
from urllib.parse import unquote_to_bytes

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from pleromad.deferreds import within
from pleromad.errors import ApiError
from pleromad.metrics import UNMATCHED, Metrics
from pleromad.web.access_log import access_log_line
from pleromad.web.base import REQUEST_ID, write_json
from pleromad.web.params import decode_body

# Room for the multipart framing around a file of exactly [instance]
# upload_limit, so that such a file reaches the upload code, whose own check
# answers "file_too_large".
_FRAMING_ALLOWANCE = 1024 * 1024


def body_limit(upload_limit: int) -> int:
    """The largest request body the site reads."""
    return upload_limit + _FRAMING_ALLOWANCE


# The methods a POST may ask to be routed as (Plug.MethodOverride).
METHOD_OVERRIDES = frozenset({"PUT", "PATCH", "DELETE"})
_OVERRIDE_SCAN_LIMIT = 64 * 1024
_ALLOWED_METHODS = b"POST, PUT, DELETE, GET, PATCH, OPTIONS"
_ALLOWED_HEADERS = b"Authorization, Content-Type, Idempotency-Key"
_EXPOSED_HEADERS = (
    b"Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, "
    b"X-Request-Id, Idempotency-Key"
)


class PleromadRequest(Request):
    """A request that stops buffering a body once it passes the site's limit.

    twisted.web would otherwise spool any body to disk, however large; the
    gateway answers 413 for the flagged request.
    """

    body_too_large = False
    _received = 0
    # The route template that answered (set by the router), for the metrics.
    route = UNMATCHED
    # When the whole request had arrived, by the site's reactor.
    arrived = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Parameters are parsed by pleromad.web.params, once, for every encoding.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:
        # Site.buildProtocol sets it; HTTPChannel does not declare it
        limit = self.channel.site.body_limit  # type: ignore[attr-defined]
        if length is not None and length > limit:
            self.body_too_large = True
            self.content = BytesIO()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.body_too_large:
            return
        self._received += len(data)
        if self._received > self.channel.site.body_limit:  # type: ignore[attr-defined]
            self.body_too_large = True
            assert self.content is not None  # gotLength made it
            self.content.close()
            self.content = BytesIO()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        # Site.buildProtocol sets it; HTTPChannel does not declare it
        self.arrived = self.channel.site.reactor.seconds()  # type: ignore[attr-defined]
        super().requestReceived(command, path, version)


class PleromadSite(Site):
    requestFactory = PleromadRequest
    displayTracebacks = False

    def __init__(
        self, gateway: Gateway, body_limit: int, metrics: Metrics | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("logFormatter", access_log_line)
        super().__init__(gateway, **kwargs)
        self.body_limit = body_limit
        self.metrics = metrics or Metrics()

    def log(self, request: http.Request) -> None:
        """The access log line, and the request counted (HTTPChannel calls
        this once per answered request)."""
        super().log(request)
        seconds = self.reactor.seconds() - getattr(request, "arrived", 0.0)
        route = getattr(request, "route", UNMATCHED)
        self.metrics.request_done(route, request.method, request.code, seconds)


class Gateway(Resource):
    """The site's root: request hygiene, then the Klein tree."""

    isLeaf = True

    def __init__(self, tree: IResource, body_limit: int) -> None:
        super().__init__()
        self._tree = tree
        self._body_limit = body_limit
        self._in_flight: set[Deferred[None]] = set()

    def render(self, request: IRequest) -> Any:
        request.setHeader(REQUEST_ID, os.urandom(8).hex().encode("ascii"))
        _add_cors_headers(request)
        if request.method == b"OPTIONS":
            request.setResponseCode(204)
            return b""
        request.postpath = normalised_path(request.postpath)
        if not _utf8_path(request):
            return write_json(request, {"error": "Paths must be UTF-8"}, 400)
        if _body_size(request) > self._body_limit or getattr(request, "body_too_large", False):
            return write_json(request, {"error": "Request body too large"}, 413)
        _override_method(request)
        # PleromadSite only makes server.Request, which says when it is finished
        finished = cast(Request, request).notifyFinish()
        self._in_flight.add(finished)
        finished.addBoth(lambda _: self._in_flight.discard(finished))
        return self._tree.render(request)

    def drain(self, clock: IReactorTime, timeout: float) -> Deferred[None]:
        """Fires once every request in flight has finished, or after ``timeout``."""
        waiting = defer.DeferredList(list(self._in_flight), consumeErrors=True)
        drained = within(clock, timeout, waiting.addCallback(lambda _: None))
        return drained.addErrback(lambda f: f.trap(defer.TimeoutError) and None)


def _add_cors_headers(request: IRequest) -> None:
    origin = request.getHeader(b"origin")
    if origin:
        request.setHeader(b"access-control-allow-origin", origin)
        request.setHeader(b"access-control-allow-credentials", b"true")
        request.setHeader(b"vary", b"Origin")
    else:
        request.setHeader(b"access-control-allow-origin", b"*")
    request.setHeader(b"access-control-expose-headers", _EXPOSED_HEADERS)
    if request.method == b"OPTIONS":
        request.setHeader(b"access-control-allow-methods", _ALLOWED_METHODS)
        request.setHeader(b"access-control-allow-headers", _ALLOWED_HEADERS)
        request.setHeader(b"access-control-max-age", b"86400")


def normalised_path(segments: list[bytes]) -> list[bytes]:
    """The path segments a request is routed by: ``/x/`` routes as ``/x``,
    and ``/api/.../x.json`` as ``/api/.../x``."""
    segments = list(segments)
    while len(segments) > 1 and segments[-1] == b"":
        segments.pop()
    if segments and segments[0] == b"api" and segments[-1].endswith(b".json"):
        segments[-1] = segments[-1][: -len(b".json")]
    return segments


def _utf8_path(request: IRequest) -> bool:
    try:
        for segment in request.postpath:
            unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _override_method(request: IRequest) -> None:
    """Plug.MethodOverride: a POST whose body carries ``_method`` (PUT, PATCH
    or DELETE) is routed as that method.  Only bodies up to
    ``_OVERRIDE_SCAN_LIMIT`` are looked at (the forms that use it are small;
    uploads are not read twice on the reactor); a malformed body is left
    for the route to refuse."""
    if request.method != b"POST" or request.content is None:
        return
    if _body_size(request) > _OVERRIDE_SCAN_LIMIT:
        return
    request.content.seek(0)
    body = request.content.read()
    request.content.seek(0)
    if b"_method" not in body:
        return
    ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
    try:
        override = decode_body(body, ctype).get("_method")
    except ApiError:
        return
    if isinstance(override, str) and override.upper() in METHOD_OVERRIDES:
        request.method = override.upper().encode("ascii")


def _body_size(request: IRequest) -> int:
    content = request.content
    if content is None:
        return 0
    position = content.tell()
    size: int = content.seek(0, 2)
    content.seek(position)
    return size
