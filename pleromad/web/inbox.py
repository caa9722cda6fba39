"""ActivityPub inboxes: ``POST /inbox`` (the shared one) and
``POST /users/<nickname>/inbox``.

Only the HTTP side is here: the media type (415), the size (413 over
``[federation] max_body``) and the raw bytes, which the signature's Digest
covers; :func:`pleromad.domain.inbox.receive` decides the rest.  An
activity taken is answered 202: it is applied later, by a job.
"""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from pleromad.domain import inbox, signed_requests
from pleromad.errors import ApiError
from pleromad.runtime import Runtime
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.negotiation import JSON

# What senders label activities with: ActivityPub's two, and plain JSON,
# which Mastodon (it reads any body) and Pleroma take too.
ACTIVITY_MEDIA_TYPES = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)
# What an inbox's answer (an empty JSON object) may be asked for as.
_ANSWER_TYPES = (*JSON, "application/activity+json", "application/ld+json")


class InboxApi:
    app = api_app()
    prefixes = ("/inbox", "/users")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/inbox", "POST", idempotency_key=False, accept=_ANSWER_TYPES)
    async def shared_inbox(self, call: Call) -> Any:
        return await self._receive(call, None)

    @route(app, "/users/<nickname>/inbox", "POST", idempotency_key=False, accept=_ANSWER_TYPES)
    async def user_inbox(self, call: Call) -> Any:
        return await self._receive(call, call.params.required_str("nickname"))

    async def _receive(self, call: Call, nickname: str | None) -> Any:
        request = call.request
        body = _activity_body(request, self.rt.config.federation.max_body)
        await inbox.receive(
            self.rt, body, nickname, lambda: signed_requests.signer(self.rt, request, body)
        )
        return JsonResponse({}, 202)


def _activity_body(request: IRequest, limit: int) -> bytes:
    """The raw body of an inbox POST, if it is labelled as an activity and
    no larger than ``limit`` bytes."""
    ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
    if ctype.split(";", 1)[0].strip().lower() not in ACTIVITY_MEDIA_TYPES:
        raise ApiError("Activities must be application/activity+json", status=415)
    content = request.content
    if content is None:
        return b""
    content.seek(0)
    body = content.read(limit + 1)
    if len(body) > limit:
        raise ApiError("Request body too large", status=413)
    return body
