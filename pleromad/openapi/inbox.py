"""ActivityPub inboxes (:mod:`pleromad.web.inbox`): what other servers POST
activities to."""

from __future__ import annotations

from pleromad.openapi.spec import STRING, Operation, answer, closed

TAG = "ActivityPub"

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

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/inbox"): Operation(
        "The shared inbox: an activity for any account here.",
        responses={202: _QUEUED},
        description=_DESCRIPTION,
        errors=_ERRORS,
    ),
    ("POST", "/users/{nickname}/inbox"): Operation(
        "An account's inbox: an activity for it.",
        responses={202: _QUEUED},
        description=_DESCRIPTION,
        errors={**_ERRORS, 404: "No local account has this nickname."},
        path={"nickname": STRING},
    ),
}
