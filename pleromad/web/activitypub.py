"""ActivityPub documents: `/users/<nick>` and its collections, the instance
actor `/internal/fetch`, `/objects/<uuid>`, `/activities/<uuid>`, and
`/notice/<id>`, which sends clients to the status' object.  A fetch of a
status may be signed (HTTP Signatures): the signer then sees what it may,
its followers-only and direct statuses included.

Every answer is ``application/activity+json`` whatever the ``Accept``
header asks, as long as it admits that, JSON or anything: there are no HTML
pages yet, so a browser gets the document too (``Vary: Accept`` keeps the
two apart in caches for when there are).
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from pleromad.domain import documents, signed_requests
from pleromad.domain.documents import PageRequest
from pleromad.model import User
from pleromad.openapi.spec import STRING, Operation, Response, Schema, no_content, ref
from pleromad.runtime import Runtime
from pleromad.web.base import Call, JsonResponse, api_app, plain_route, route
from pleromad.web.negotiation import JSON

AP_CONTENT_TYPE = "application/activity+json; charset=utf-8"
AP_ACCEPT = (*JSON, "application/activity+json", "application/ld+json")
_HEADERS = {"Content-Type": AP_CONTENT_TYPE, "Vary": "Accept"}
AP = "application/activity+json"

_PAGE: dict[str, Schema] = {
    "page": {**STRING, "description": "Present (any value): a page rather than the collection."},
    "max_id": {"type": "integer", "description": "A page of the entries older than this one."},
}
_COLLECTION = Response(
    "The collection (only its size when the account hides it), or one of its pages.",
    {"anyOf": [ref("OrderedCollection"), ref("OrderedCollectionPage")]},
    AP,
)
_ACTOR_ERRORS = {
    404: "No local account in use by that name (deactivated ones included).",
    410: "The account was deleted.",
}
_STATUS_ERRORS = {
    401: "A signed fetch whose HTTP Signature does not verify.",
    404: "No local status with that id, or one only a signed fetch by an actor allowed"
    " to see it may have.",
}


def _collection(summary: str) -> Operation:
    return Operation(summary, responses={200: _COLLECTION}, fields=_PAGE, errors=_ACTOR_ERRORS)


async def fetching_actor(rt: Runtime, request: IRequest) -> User | None:
    """The remote account whose HTTP Signature a fetch carries, to be shown
    what it may see; None for an unsigned fetch, 401 for a signature that
    does not verify."""
    headers = request.requestHeaders
    authorization = (headers.getRawHeaders(b"authorization") or [b""])[0]
    if not headers.hasHeader(b"signature") and not authorization.lower().startswith(b"signature "):
        return None
    return await signed_requests.signer(rt, request, None)


def activity_json(document: dict[str, Any]) -> JsonResponse:
    return JsonResponse(document, headers=_HEADERS)


def page_request(call: Call) -> PageRequest:
    """``?page`` (any value asks for a page) and ``?max_id`` of a collection."""
    return PageRequest(page=call.params.get("page") is not None, max_id=call.params.int("max_id"))


class ActivityPubApi:
    app = api_app()
    tag = "ActivityPub"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/users/<nickname>",
        "GET",
        accept=AP_ACCEPT,
        doc=Operation(
            "A local account as its ActivityPub actor (Person).",
            responses={200: Response("The actor.", ref("Person"), AP)},
            errors=_ACTOR_ERRORS,
        ),
    )
    async def person(self, call: Call) -> Any:
        nickname = call.params.required_str("nickname")
        return activity_json(await documents.person(self.rt, nickname))

    @route(
        app,
        "/users/<nickname>/followers",
        "GET",
        accept=AP_ACCEPT,
        doc=_collection("The account's followers' actor ids."),
    )
    async def followers(self, call: Call) -> Any:
        return await self._follows(call, "followers")

    @route(
        app,
        "/users/<nickname>/following",
        "GET",
        accept=AP_ACCEPT,
        doc=_collection("The actor ids the account follows."),
    )
    async def following(self, call: Call) -> Any:
        return await self._follows(call, "following")

    async def _follows(self, call: Call, kind: str) -> Any:
        nickname = call.params.required_str("nickname")
        document = await documents.follow_collection(self.rt, nickname, kind, page_request(call))
        return activity_json(document)

    @route(
        app,
        "/users/<nickname>/outbox",
        "GET",
        accept=AP_ACCEPT,
        doc=_collection("The account's public and unlisted Creates and Announces, newest first."),
    )
    async def outbox(self, call: Call) -> Any:
        nickname = call.params.required_str("nickname")
        return activity_json(await documents.outbox(self.rt, nickname, page_request(call)))

    @route(
        app,
        "/internal/fetch",
        "GET",
        accept=AP_ACCEPT,
        doc=Operation(
            "The instance actor (Application), which signs the server's own fetches.",
            responses={200: Response("The actor.", ref("Application"), AP)},
        ),
    )
    async def instance_actor(self, call: Call) -> Any:
        return activity_json(await documents.instance_actor(self.rt))

    @route(
        app,
        "/objects/<uuid>",
        "GET",
        accept=AP_ACCEPT,
        doc=Operation(
            "A local status as its Note.",
            responses={200: Response("The Note.", ref("Note"), AP)},
            errors=_STATUS_ERRORS,
        ),
    )
    async def note(self, call: Call) -> Any:
        uuid = call.params.required_str("uuid")
        viewer = await fetching_actor(self.rt, call.request)
        return activity_json(await documents.note(self.rt, uuid, viewer))

    @route(
        app,
        "/activities/<uuid>",
        "GET",
        accept=AP_ACCEPT,
        doc=Operation(
            "The Create of a local status, or the Announce of a local reblog.",
            responses={200: Response("The activity.", ref("Activity"), AP)},
            errors=_STATUS_ERRORS,
        ),
    )
    async def activity(self, call: Call) -> Any:
        uuid = call.params.required_str("uuid")
        viewer = await fetching_actor(self.rt, call.request)
        return activity_json(await documents.activity(self.rt, uuid, viewer))

    @plain_route(
        app,
        "/notice/<id>",
        "GET",
        doc=Operation(
            "A status' page address: redirects to its Note (a reblog's: its Announce).",
            responses={302: no_content("Location: the object.", Location="The object's id.")},
            errors=_STATUS_ERRORS,
        ),
    )
    async def notice(self, request: IRequest, id: str) -> bytes:
        """A status' page address: until there are HTML pages, every client
        is sent to its Note (a reblog's: its Announce)."""
        viewer = await fetching_actor(self.rt, request)
        target = await documents.notice_target(self.rt, id, viewer)
        request.setResponseCode(302)
        request.setHeader(b"location", target.encode("utf-8"))
        request.setHeader(b"vary", b"Accept")
        return b""
