"""Prebuilt answers: the same bytes for everyone until something changes.

A route declared with :func:`prebuilt_route` names a :class:`Source` of its
answer instead of a handler.  The router (:class:`pleromad.web.root.RouteTable`)
serves a GET or HEAD of such a path straight from the source's bytes when
they are current (:meth:`Source.peek`), with no parameter parsing, no
authentication and no Klein dispatch; otherwise — first request, an answer
past its age, an ``Accept`` that admits no JSON — the route's Klein endpoint
answers it the ordinary way, awaiting :meth:`Source.get`.  Either way the
answer carries its ETag and a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from klein import Klein
from twisted.internet.defer import DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread
from twisted.web.iweb import IRequest

from pleromad.errors import ApiError
from pleromad.openapi.spec import Operation
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.auth import Auth
from pleromad.web.base import JSON_CONTENT_TYPE, Access, add_route
from pleromad.web.negotiation import check_accept

# How old the counts in a prebuilt answer (users, statuses) may get.
FIGURES_SECONDS = 60.0

NOT_MODIFIED_DOC = "The client's copy is current: `If-None-Match` matches the ETag."


class Source(Protocol):
    """Where a prebuilt route's answer comes from."""

    def peek(self) -> Prebuilt | None:
        """The answer, if one is in memory and current; never waits."""

    async def get(self) -> Prebuilt:
        """The current answer, building it first if needed."""


@dataclass(frozen=True)
class Fixed:
    """An answer that never changes while the daemon runs."""

    answer: Prebuilt

    def peek(self) -> Prebuilt:
        return self.answer

    async def get(self) -> Prebuilt:
        return self.answer


class OnDemand:
    """An answer that never changes, built by ``build`` (in a thread: it may
    take tens of milliseconds) when it is first asked for: for a large
    answer few ask for, which an idle daemon need not hold (see
    docs/memory.md).  Requests that come before it is built wait for one
    build together."""

    def __init__(self, build: Callable[[], Prebuilt]) -> None:
        self._build = build
        self._answer: Prebuilt | None = None
        self._lock = DeferredLock()

    def peek(self) -> Prebuilt | None:
        return self._answer

    async def get(self) -> Prebuilt:
        async with self._lock:
            if self._answer is None:
                self._answer = await deferToThread(self._build)
            return self._answer


class Refreshed:
    """An answer rebuilt by ``build`` once it is ``seconds`` old by ``clock``:
    for answers holding figures that other processes change too (user
    counts), which no in-process event could invalidate.  Requests that find
    it stale wait for one rebuild together."""

    def __init__(
        self, clock: IReactorTime, seconds: float, build: Callable[[], Awaitable[Prebuilt]]
    ) -> None:
        self._clock = clock
        self._seconds = seconds
        self._build = build
        self._answer: Prebuilt | None = None
        self._built_at = 0.0
        self._lock = DeferredLock()

    def peek(self) -> Prebuilt | None:
        if self._answer is None or self._clock.seconds() - self._built_at >= self._seconds:
            return None
        return self._answer

    async def get(self) -> Prebuilt:
        async with self._lock:
            answer = self.peek()
            if answer is None:
                built_at = self._clock.seconds()
                answer = self._answer = await self._build()
                self._built_at = built_at
            return answer


SourceOf = Callable[[Any], Source]


@dataclass(frozen=True)
class PrebuiltRoute:
    """How a prebuilt route answers, kept on its Klein endpoint for the router."""

    source_of: SourceOf  # the family instance -> its source
    cache_control: bytes | None
    content_type: bytes
    accept: tuple[str, ...] | None

    def serve(self, request: IRequest, answer: Prebuilt) -> bytes:
        """Write ``answer``'s headers and give its body (none for HEAD or 304)."""
        if self.accept is not None:
            check_accept(request, self.accept)
        body = _write(request, answer, self.cache_control, self.content_type)
        return b"" if request.method == b"HEAD" else body

    def serve_current(self, request: IRequest, source: Source) -> bytes | None:
        """The fast path: the answer if the source has it in memory and the
        request is one it answers without help; None for the Klein route."""
        answer = source.peek()
        if answer is None:
            return None
        try:
            return self.serve(request, answer)
        except ApiError:
            return None  # the route answers the error, as for any other


def prebuilt_route(
    app: Klein,
    path: str,
    *,
    doc: Operation,
    cache_control: bytes | None = None,
    content_type: bytes = JSON_CONTENT_TYPE,
    accept: tuple[str, ...] | None = None,
) -> Callable[[SourceOf], SourceOf]:
    """Declare ``GET path`` of ``app`` as answered by the :class:`Source` the
    decorated method returns: ``accept``, when given, is what an ``Accept``
    header must admit (else 406), ``cache_control`` the answer's
    ``Cache-Control``."""

    def decorate(source_of: SourceOf) -> SourceOf:
        prebuilt = PrebuiltRoute(source_of, cache_control, content_type, accept)

        async def endpoint(self: Any, request: IRequest) -> bytes:
            return prebuilt.serve(request, await source_of(self).get())

        endpoint.__name__ = source_of.__name__
        endpoint.prebuilt = prebuilt  # type: ignore[attr-defined]
        if accept is not None:
            # Documented as a JSON route anyone may call (its 406 included).
            endpoint.access = Access(Auth.NONE, None)  # type: ignore[attr-defined]
        add_route(app, path, ("GET",), endpoint, doc)
        return source_of

    return decorate


def _write(
    request: IRequest,
    answer: Prebuilt,
    cache_control: bytes | None,
    content_type: bytes = JSON_CONTENT_TYPE,
) -> bytes:
    request.setHeader(b"etag", answer.etag.encode("ascii"))
    if cache_control is not None:
        request.setHeader(b"cache-control", cache_control)
    if _matches(request.getHeader(b"if-none-match"), answer.etag):
        request.setResponseCode(304)
        return b""
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", b"%d" % len(answer.body))
    return answer.body


def _matches(if_none_match: bytes | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` with our ETag."""
    if if_none_match is None:
        return False
    candidates = if_none_match.decode("latin-1").split(",")
    return any(c.strip().removeprefix("W/") in (etag, "*") for c in candidates)
