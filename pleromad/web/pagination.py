"""Keyset pagination parameters and the ``Link`` header (DECISIONS 8).

Every paginated listing reads its page with :func:`page_params` and answers
with :func:`paginated` (or :func:`link_header`): ``limit`` defaults to 20 and
is clamped to the listing's maximum (40 for statuses, 80 for accounts and
notifications); ``max_id`` takes entries older than it, ``since_id`` and
``min_id`` newer ones (``min_id`` those just after it); a page always reads
newest first.  The ``Link`` header points at the endpoint that was called,
keeping its other query parameters, with ``next`` by ``max_id`` = the last
id of the page and ``prev`` by ``min_id`` = the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from pleromad.errors import BadRequest
from pleromad.ids import BIGINT_MAX
from pleromad.web.base import Call, JsonResponse
from pleromad.web.params import Params

DEFAULT_LIMIT = 20
STATUSES_MAX_LIMIT = 40
ACCOUNTS_MAX_LIMIT = 80
NOTIFICATIONS_MAX_LIMIT = 80

_CURSORS = ("max_id", "since_id", "min_id")
# Never repeated in a link: the cursors are replaced, and a token in a URL
# would end up in logs and histories.
_DROPPED = frozenset(_CURSORS) | frozenset(c + "[]" for c in _CURSORS) | {"access_token"}


@dataclass(frozen=True)
class Page:
    """One page asked for: at most ``limit`` entries, ids below ``max_id`` and
    above ``since_id`` / ``min_id`` (None: unbounded).

    It is the ``Window`` the stores' page queries take
    (:class:`pleromad.store.timelines.Window`).
    """

    limit: int
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None


def page_params(params: Params, max_limit: int) -> Page:
    """The page a request asks for; a non-integer parameter or a negative
    ``limit`` is a 400, a ``limit`` over ``max_limit`` is clamped."""
    limit = params.int("limit", DEFAULT_LIMIT)
    assert limit is not None
    if limit < 0:
        raise BadRequest("Invalid value for limit: expected a positive integer")
    return Page(
        limit=min(limit, max_limit),
        max_id=_cursor(params, "max_id"),
        since_id=_cursor(params, "since_id"),
        min_id=_cursor(params, "min_id"),
    )


def offset_param(params: Params) -> int:
    """``offset`` of the listings paged by position (searches): negative is 0,
    and beyond a bigint nothing is left anyway."""
    return min(max(params.int("offset", 0) or 0, 0), BIGINT_MAX)


def _cursor(params: Params, name: str) -> int | None:
    value = params.int(name)
    if value is None:
        return None
    # Ids are positive: a negative cursor means what 0 does (and -2**63 would
    # reach PostgreSQL as -(2**63)::bigint, out of range); beyond bigint
    # every id is on the same side of it.
    return min(max(value, 0), BIGINT_MAX)


def link_header(call: Call, ids: Sequence[int | str], *, base_url: str) -> str | None:
    """The ``Link`` header of a page whose entries have the pagination keys
    ``ids`` (newest first), with absolute URLs under ``base_url`` (the
    instance's ``[server] base_url``); None for an empty page."""
    if not ids:
        return None
    return (
        f'<{_page_url(call, base_url, "max_id", ids[-1])}>; rel="next", '
        f'<{_page_url(call, base_url, "min_id", ids[0])}>; rel="prev"'
    )


def paginated(call: Call, body: Any, ids: Sequence[int | str], *, base_url: str) -> JsonResponse:
    """``body`` (the rendered page) with its ``Link`` header, if any."""
    link = link_header(call, ids, base_url=base_url)
    return JsonResponse(body, headers={"Link": link} if link else {})


def _page_url(call: Call, base_url: str, cursor: str, value: int | str) -> str:
    request = call.request
    # The segments as the site normalised them (no trailing slash, no
    # ``.json``) and unquoted; Klein moved the routed ones to prepath.
    segments = [*request.prepath, *request.postpath]
    path = "/" + "/".join(quote(segment, safe="@:!$&'()*+,;=-._~") for segment in segments)
    query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
    kept = [
        (name, v)
        for name, v in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
        if name not in _DROPPED
    ]
    kept.append((cursor, str(value)))
    return f"{base_url.rstrip('/')}{path}?{urlencode(kept)}"
