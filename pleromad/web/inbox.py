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
from pleromad.openapi.spec import STRING, Operation, answer, closed
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

_DESCRIPTION = (
    "The body is one activity (a JSON object with `id`, `type` and `actor`), sent as"
    ' `application/activity+json`, `application/ld+json; profile="https://www.w3.org/ns/'
    'activitystreams"` or `application/json`, no larger than `[federation] max_body`, with'
    " an HTTP Signature (draft-cavage-12) by the activity's actor covering"
    " `(request-target)`, `date` (within 12 hours) and `digest` (of this body).  It is"
    " applied later by a job; one received before is answered the same and not applied"
    " again.  Types nobody applies here are acknowledged and dropped."
)
_ERRORS = {
    400: "Malformed JSON, not an activity, or an id on another host than the actor's.",
    401: "No signature, a wrong one, a key we cannot find, or a signer not the actor.",
    403: "Federation is disabled, or the actor's instance is blocked.",
    413: "The body is over `[federation] max_body`.",
    415: "A body that is not labelled as an activity.",
    503: "The database is unavailable; try again.",
}
_QUEUED = answer(closed({}), "The activity is queued (or was received before).")


class InboxApi:
    app = api_app()
    tag = "ActivityPub"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/inbox",
        "POST",
        idempotency_key=False,
        accept=_ANSWER_TYPES,
        doc=Operation(
            "The shared inbox: an activity for any account here.",
            responses={202: _QUEUED},
            description=_DESCRIPTION,
            errors=_ERRORS,
        ),
    )
    async def shared_inbox(self, call: Call) -> Any:
        return await self._receive(call, None)

    @route(
        app,
        "/users/<nickname>/inbox",
        "POST",
        idempotency_key=False,
        accept=_ANSWER_TYPES,
        doc=Operation(
            "An account's inbox: an activity for it.",
            responses={202: _QUEUED},
            description=_DESCRIPTION,
            errors={**_ERRORS, 404: "No local account has this nickname."},
            path={"nickname": STRING},
        ),
    )
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
    body: bytes = content.read(limit + 1)
    if len(body) > limit:
        raise ApiError("Request body too large", status=413)
    return body
