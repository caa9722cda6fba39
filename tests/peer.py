"""A small remote server on loopback for the federation tests: it answers
each path as the test tells it and records every request it receives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from pleromad.federation.fetch import AP_CONTENT_TYPE


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    # Lowercase names; repeated headers joined with ", ".
    headers: dict[str, str]
    body: bytes


# Answers a request: the body, or NOT_DONE_YET when it answers later (or never).
Handler = Callable[[Request, Received], Any]


class Peer(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Handler] = {}
        self.received: list[Received] = []
        self.base = ""
        self.port = 0

    def answer(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        def handler(request: Request, _received: Received) -> bytes:
            request.setResponseCode(status)
            for name, value in (headers or {}).items():
                request.setHeader(name, value)
            return body

        self.routes[path] = handler

    def document(self, path: str, document: Any, content_type: str = AP_CONTENT_TYPE) -> None:
        self.answer(path, json.dumps(document).encode(), headers={"Content-Type": content_type})

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.answer(path, b"", status=status, headers={"Location": location})

    def render(self, request: Request) -> Any:
        headers = {
            name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        received = Received(
            request.method.decode(), request.uri.decode(), headers, request.content.read()
        )
        self.received.append(received)
        handler = self.routes.get(received.path)
        if handler is None:
            request.setResponseCode(404)
            return b"not here"
        return handler(request, received)


StartPeer = Callable[..., Peer]


@pytest_twisted.async_yield_fixture
async def peers() -> AsyncIterator[StartPeer]:
    """Start peers on loopback (127.0.0.1 unless told another address)."""
    ports = []

    def start(interface: str = "127.0.0.1") -> Peer:
        peer = Peer()
        site = Site(peer)
        site.noisy = False
        port = reactor.listenTCP(0, site, interface=interface)
        ports.append(port)
        peer.port = port.getHost().port
        peer.base = f"http://{interface}:{peer.port}"
        return peer

    yield start
    for port in ports:
        await port.stopListening()
