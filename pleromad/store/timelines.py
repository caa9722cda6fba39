"""Which statuses a listing shows, one page at a time.

Every listing selects ids only, by keyset pagination on an indexed id
column, filtered by the one visibility predicate
(:func:`pleromad.store.visibility.visible_to_viewer`); loading and rendering
the statuses themselves is the statuses store's and view's business.  Each
page query is built by a ``*_query`` function that returns the exact SQL and
arguments, which :func:`pleromad.store.loader.load_page_txn` runs inside
the loader's statement (one round trip, one snapshot) and the tests check
the plan of with EXPLAIN.
"""

from __future__ import annotations

from typing import Any, Protocol

from pleromad.model import StatusFilters
from pleromad.store.visibility import visible_to_viewer

Query = tuple[str, dict[str, Any]]


class Window(Protocol):
    """A page request: at most ``limit`` rows, ids above ``since_id`` /
    ``min_id`` and below ``max_id`` (None: unbounded).  With ``min_id`` the
    rows just above it are taken, otherwise the newest; either way a page is
    returned newest first."""

    @property
    def limit(self) -> int: ...
    @property
    def max_id(self) -> int | None: ...
    @property
    def since_id(self) -> int | None: ...
    @property
    def min_id(self) -> int | None: ...


def _bounds(column: str, window: Window, args: dict[str, Any]) -> str:
    """The keyset bounds of ``window`` on ``column``."""
    bounds = []
    if window.max_id is not None:
        bounds.append(f" AND {column} < %(max_id)s")
        args["max_id"] = window.max_id
    lower = max((v for v in (window.since_id, window.min_id) if v is not None), default=None)
    if lower is not None:
        bounds.append(f" AND {column} > %(lower)s")
        args["lower"] = lower
    return "".join(bounds)


def _order(
    column: str,
    window: Window,
    args: dict[str, Any],
    *,
    within: str | None = None,
    index_ascending: bool = False,
) -> str:
    """The ORDER BY ... LIMIT of ``window`` on ``column``: newest first, or
    just above ``min_id`` when it is given.  ``within`` is a column all rows
    share, ordered first so that only an index on (``within``, ``column``
    DESC) gives the order — or on (``within``, ``column``) with
    ``index_ascending`` — see :func:`_owned_by`.

    The limit is written into the statement rather than passed: the plan
    PostgreSQL keeps for a prepared statement (see
    :mod:`pleromad.db.prepared`) is made without the parameters' values, and
    for an unknown limit it expects a tenth of the table, for which it
    hashes every status instead of looking up twenty.  ``int()`` keeps it a
    number."""
    ascending = window.min_id is not None
    order = f"{column} {'ASC' if ascending else 'DESC'}"
    if within is not None:
        within_ascending = ascending == index_ascending
        order = f"{within} {'ASC' if within_ascending else 'DESC'}, {order}"
    return f" ORDER BY {order} LIMIT {int(window.limit)}"


def _owned_by(column: str, owner: str) -> str:
    """``column`` is ``owner`` (an SQL value), written so that a page walks
    the owner's index (owner, id DESC) from the keyset bound and stops when
    the page is full.

    With a plain ``=`` the owner is a constant to the planner, which then
    may walk the primary key backwards past everyone's rows (when the owner
    holds a large share of the table), or misjudge how many rows pass the
    visibility filters (it expects none while the blocks table is nearly
    empty) and read all of the owner's rows to sort them.  Matched with
    ``= ANY`` and ordered by (owner, id) (``_order(within=column)``), only
    the owner's index gives the order and the estimates stay sensible, so a
    page costs the same however many rows the table holds (the tests check
    the plans with EXPLAIN).
    """
    return f"{column} = ANY(ARRAY[{owner}]::bigint[])"


def _not_shunned(alias: str) -> str:
    """The author of ``alias`` is neither blocked nor muted by the viewer."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks sb WHERE sb.blocker_id = %(viewer)s"
        f" AND sb.blocked_id = {alias}.account_id)"
        f" AND NOT EXISTS (SELECT 1 FROM mutes sm WHERE sm.muter_id = %(viewer)s"
        f" AND sm.muted_id = {alias}.account_id)"
    )


def _original(alias: str) -> str:
    """Join the original of a reblog ``alias`` as ``ro`` (NULLs for a post),
    by primary key: checking it costs one lookup per row, where an EXISTS
    inside an OR may be planned as a hash of every status the reader may see."""
    return f" LEFT JOIN statuses ro ON ro.id = {alias}.reblog_of_id"


def _original_visible(alias: str, *, shun: bool) -> str:
    """A reblog ``alias`` shows only when its original (joined by
    :func:`_original`) may be seen too — and, with ``shun``, is not by an
    account the viewer blocks or mutes."""
    extra = f" AND {_not_shunned('ro')}" if shun else ""
    return f"({alias}.reblog_of_id IS NULL OR ({visible_to_viewer('ro')}{extra}))"


def _filters(alias: str, filters: StatusFilters, args: dict[str, Any]) -> str:
    clauses = []
    if filters.exclude_reblogs:
        clauses.append(f"{alias}.reblog_of_id IS NULL")
    if filters.exclude_replies:
        clauses.append(f"{alias}.in_reply_to_id IS NULL AND {alias}.in_reply_to_account_id IS NULL")
    if filters.only_media:
        # A reblog carries the media of its original.
        clauses.append(
            "EXISTS (SELECT 1 FROM status_media fm"
            f" WHERE fm.status_id = COALESCE({alias}.reblog_of_id, {alias}.id))"
        )
    if filters.local_only:
        clauses.append(
            f"EXISTS (SELECT 1 FROM users fu WHERE fu.id = {alias}.account_id AND fu.local)"
        )
    if filters.remote_only:
        clauses.append(
            f"EXISTS (SELECT 1 FROM users fu WHERE fu.id = {alias}.account_id AND NOT fu.local)"
        )
    if filters.tagged is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM status_tags ft"
            f" WHERE ft.status_id = COALESCE({alias}.reblog_of_id, {alias}.id)"
            " AND ft.tag = %(tag)s)"
        )
        args["tag"] = filters.tagged.lower()
    return "".join(f" AND {clause}" for clause in clauses)


# -- home ------------------------------------------------------------------


def home_query(viewer_id: int, window: Window, filters: StatusFilters) -> Query:
    """The reader's own statuses, those of the accounts they follow
    (accepted follows; reblogs unless the follow hides them) and those that
    mention them (a DM or mention from an account they do not follow is
    addressed to them all the same), minus accounts they block or mute, each
    visible to them and listed once.

    A page is merged from at most a page of each of those accounts, each
    read from ``statuses_account_idx``, and a page of the reader's mentions,
    read from ``status_mentions_account_idx`` (account_id, status_id) and
    joined to statuses by primary key: its cost grows with the number of
    accounts followed, never with the size of the statuses or mentions
    tables.  ``UNION`` drops a status found both ways (a followed account
    mentioning the reader).
    """
    args: dict[str, Any] = {"viewer": viewer_id}
    followed = (
        "SELECT f.id FROM ("
        "  SELECT %(viewer)s::bigint AS account_id, true AS show_reblogs"
        "  UNION ALL SELECT hf.followee_id, hf.show_reblogs FROM follows hf"
        "  WHERE hf.follower_id = %(viewer)s AND hf.state = 'accepted') a"
        f" CROSS JOIN LATERAL (SELECT s.id FROM statuses s{_original('s')}"
        f"  WHERE {_owned_by('s.account_id', 'a.account_id')}"
        "  AND (s.reblog_of_id IS NULL OR a.show_reblogs)"
        f" AND {visible_to_viewer('s')}"
        f" AND {_not_shunned('s')}"
        f" AND {_original_visible('s', shun=True)}"
        f"{_filters('s', filters, args)}{_bounds('s.id', window, args)}"
        f"{_order('s.id', window, args, within='s.account_id')}) f"
    )
    # Bounded and ordered on the columns of status_mentions_account_idx
    # (account_id, status_id), so that the page is read from it (backwards
    # for newest first) and stops there (see _owned_by).
    mentioning = (
        "SELECT hm.status_id AS id FROM status_mentions hm"
        f" JOIN statuses s ON s.id = hm.status_id{_original('s')}"
        f" WHERE {_owned_by('hm.account_id', '%(viewer)s')}"
        f" AND {visible_to_viewer('s')}"
        f" AND {_not_shunned('s')}"
        f" AND {_original_visible('s', shun=True)}"
        f"{_filters('s', filters, args)}{_bounds('hm.status_id', window, args)}"
        f"{_order('hm.status_id', window, args, within='hm.account_id', index_ascending=True)}"
    )
    sql = f"SELECT h.id FROM ({followed} UNION ({mentioning})) h{_order('h.id', window, args)}"
    return sql, args


# -- public ----------------------------------------------------------------


def public_query(viewer_id: int | None, window: Window, filters: StatusFilters) -> Query:
    """Public statuses (not reblogs, as Mastodon's federated timeline), minus
    the authors the reader blocks or mutes.  Walks ``statuses_public_idx``."""
    args: dict[str, Any] = {"viewer": viewer_id}
    sql = (
        "SELECT s.id FROM statuses s"
        " WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL"
        f" AND {visible_to_viewer('s')}"
        f" AND {_not_shunned('s')}"
        f"{_filters('s', filters, args)}{_bounds('s.id', window, args)}"
        f"{_order('s.id', window, args)}"
    )
    return sql, args


# -- one account's statuses ------------------------------------------------


def account_statuses_query(
    account_id: int, viewer_id: int | None, window: Window, filters: StatusFilters
) -> Query:
    """Statuses and reblogs by ``account_id`` the reader may see.  Walks
    ``statuses_account_idx``."""
    args: dict[str, Any] = {"viewer": viewer_id, "owner": account_id}
    sql = (
        f"SELECT s.id FROM statuses s{_original('s')}"
        f" WHERE {_owned_by('s.account_id', '%(owner)s')}"
        f" AND {visible_to_viewer('s')}"
        f" AND {_original_visible('s', shun=False)}"
        f"{_filters('s', filters, args)}{_bounds('s.id', window, args)}"
        f"{_order('s.id', window, args, within='s.account_id')}"
    )
    return sql, args


# -- an account's favourites -----------------------------------------------


# The owner plainly shows their favourites to the reader: an account
# neither deleted nor awaiting confirmation (so visible to anyone), whose
# favourites are not hidden from the reader.  Uncorrelated, so PostgreSQL
# checks it once per statement, before walking any favourite.
_SHOWN_BY_OWNER = (
    " AND EXISTS (SELECT 1 FROM users o WHERE o.id = %(owner)s AND NOT o.deleted"
    " AND NOT o.confirmation_pending"
    " AND (NOT o.hide_favorites OR o.id = %(viewer)s))"
)


def favourites_query(
    account_id: int, viewer_id: int | None, window: Window, *, shown_by_owner: bool = False
) -> Query:
    """The favourites of ``account_id`` whose statuses the reader may see
    (and whose authors the reader does not block), by the favourite's id.
    With ``shown_by_owner`` the page is empty unless the owner plainly
    shows them to the reader (see ``_SHOWN_BY_OWNER``), so that a page with
    rows needs no other look at its owner.

    Walks ``favourites_account_idx`` (account_id, id DESC) from the keyset
    bound and joins each row to its status by primary key, so a page costs
    the same however many favourites the table holds.
    """
    args: dict[str, Any] = {"viewer": viewer_id, "owner": account_id}
    sql = (
        "SELECT f.id, f.status_id FROM favourites f"
        " JOIN statuses s ON s.id = f.status_id"
        f" WHERE {_owned_by('f.account_id', '%(owner)s')}"
        f"{_SHOWN_BY_OWNER if shown_by_owner else ''}"
        f" AND {visible_to_viewer('s')}"
        " AND NOT EXISTS (SELECT 1 FROM blocks sb WHERE sb.blocker_id = %(viewer)s"
        "   AND sb.blocked_id = s.account_id)"
        f"{_bounds('f.id', window, args)}"
        f"{_order('f.id', window, args, within='f.account_id')}"
    )
    return sql, args
