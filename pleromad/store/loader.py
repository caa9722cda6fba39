"""Everything a viewer is shown of some statuses, in a fixed few statements.

What changes apart from a status' row is read on every load, in one
statement with the statuses' versions: the counts, the viewer's flags and,
for each author, their figures, their relationship to the viewer and the
version of their account.  The rows themselves (a post with its mentions,
tags, emoji and attachments; an account) are turned into objects once per
version and kept (``Txn.kept``, see :mod:`pleromad.versioned`): they are
read again only when not kept at the version just read.  A page shown
before is then one statement (two with attachments), and the rows a busy
server shows most are not read, typecast and built anew for every reader.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pleromad.db.pool import Txn
from pleromad.model import FollowCounts, Loaded, Media, Relationship, Shown, Status, User, from_row
from pleromad.store.relationships import ACCOUNT_COLUMNS, RELATIONSHIP_FIELDS, relationship_sql
from pleromad.store.statuses import COUNTED, MEDIA_COLUMNS, STATUS_COLUMNS, STATUS_FIELDS
from pleromad.store.timelines import Query
from pleromad.store.visibility import NO_VIEWER, visible_to_viewer

# The version of an account: its row's and its actor document's (None: none).
AccountVersion = tuple[int, int | None]


@dataclass(frozen=True)
class _Post:
    """What a status' row (and what is written with it) says, kept by its version."""

    status: Status
    mention_ids: tuple[int, ...]
    tags: tuple[str, ...]
    # (shortcode, absolute URL)
    emojis: tuple[tuple[str, str], ...]
    media_ids: tuple[int, ...]


_POSTS = (
    f"SELECT {STATUS_COLUMNS}, s.xmin::text::bigint AS version,"
    " ARRAY(SELECT sm.account_id FROM status_mentions sm WHERE sm.status_id = s.id"
    "   ORDER BY sm.account_id) AS mention_ids,"
    " ARRAY(SELECT st.tag FROM status_tags st WHERE st.status_id = s.id ORDER BY st.tag)"
    "   AS tags,"
    " ARRAY(SELECT ARRAY[se.shortcode, se.url] FROM status_emojis se"
    "   WHERE se.status_id = s.id ORDER BY se.shortcode) AS emojis,"
    " ARRAY(SELECT sa.media_id FROM status_media sa WHERE sa.status_id = s.id"
    "   ORDER BY sa.position) AS media_ids"
    " FROM statuses s WHERE s.id = ANY(%s::bigint[])"
)
_ACCOUNTS = (
    f"SELECT {ACCOUNT_COLUMNS}, ra.document AS remote_document,"
    " u.xmin::text::bigint AS version, ra.xmin::text::bigint AS document_version"
    " FROM users u LEFT JOIN remote_actors ra ON ra.user_id = u.id"
    " WHERE u.id = ANY(%s::bigint[])"
)
_MEDIA = f"SELECT {MEDIA_COLUMNS} FROM media WHERE id = ANY(%s::bigint[])"
# An account's version, as the loader's statement reads its authors'.
_ACCOUNT_VERSION = (
    "u.xmin::text::bigint AS account_version, ra.xmin::text::bigint AS document_version"
)


def load_query(ids: Sequence[int], viewer_id: int | None, *, godmode: bool = False) -> Query:
    """The statement :func:`load_txn` runs first: the statuses ``ids`` (and
    the originals of reblogs among them) the viewer may see, with what
    changes apart from their rows (see the module).  Every part is an index
    lookup by status id, so it costs the same however large the tables
    are.  ``godmode`` (moderators) shows every status, whoever may see it."""
    wanted = (
        "WITH wanted AS ("
        "  SELECT unnest(%(ids)s::bigint[]) AS id"
        "  UNION SELECT w.reblog_of_id FROM statuses w"
        "  WHERE w.id = ANY(%(ids)s::bigint[]) AND w.reblog_of_id IS NOT NULL)"
    )
    visible = "true" if godmode else visible_to_viewer("s")
    sql = _figures_sql(wanted, "NULL::bigint", "", visible, related=viewer_id is not None)
    return sql, {"ids": list(ids), "viewer": NO_VIEWER if viewer_id is None else viewer_id}


def load_page_query(
    page: Query, viewer_id: int | None, *, status_column: str = "id", key_column: str = "id"
) -> Query:
    """:func:`load_query` of the statuses a page query (one of
    :mod:`pleromad.store.timelines`) selects, in the same statement: its
    rows name a status in ``status_column`` that ``viewer_id`` may see and
    are keyed (newest first) by ``key_column``, returned as ``page_key``
    (NULL for the original of a reblog that only the reblog brought).
    Only those originals are checked again: the page and the loader read
    one snapshot, so the page's own statuses are as visible as it found them."""
    page_sql, page_args = page
    wanted = (
        f"WITH page AS ({page_sql}),"
        f" wanted AS (SELECT {status_column} AS id FROM page"
        "  UNION SELECT s.id FROM statuses w"
        f"  JOIN page ON w.id = page.{status_column} JOIN statuses s ON s.id = w.reblog_of_id"
        f"  WHERE {visible_to_viewer('s')})"
    )
    sql = _figures_sql(
        wanted,
        f"page.{key_column}",
        f" LEFT JOIN page ON page.{status_column} = s.id",
        "true",
        related=viewer_id is not None,
    )
    return sql, {**page_args, "viewer": NO_VIEWER if viewer_id is None else viewer_id}


def _figures_sql(wanted: str, page_key: str, join: str, visible: str, *, related: bool) -> str:
    """The loader's statement: the ``wanted`` statuses that are ``visible``
    (with ``page_key`` from what ``join`` adds), their versions, counts and
    the viewer's flags, and their authors' versions, figures and (when
    ``related``: the viewer is someone) relationship to the viewer.

    Each flag is a scalar subquery, one lookup in a unique index per row
    (at most one row each): as an EXISTS, PostgreSQL may plan it as a hash
    of all the viewer's favourites (or reblogs), read whole for every page
    of a reader who favourited a lot."""
    relationship, lateral = "", ""
    if related:
        relationship = ", u.id <> %(viewer)s AS related, " + ", ".join(
            f"r.{name} AS related_{name}" for name in RELATIONSHIP_FIELDS
        )
        lateral = f" CROSS JOIN LATERAL ({relationship_sql('u.id')}) r"
    return (
        f"{wanted}"
        f" SELECT s.id, s.xmin::text::bigint AS version, {page_key} AS page_key,"
        " s.account_id, sc.replies AS replies_count, sc.reblogs AS reblogs_count,"
        " sc.favourites AS favourites_count,"
        " (SELECT true FROM favourites f WHERE f.account_id = %(viewer)s"
        "   AND f.status_id = s.id) IS NOT NULL AS favourited,"
        " (SELECT true FROM statuses b WHERE b.account_id = %(viewer)s"
        "   AND b.reblog_of_id = s.id) IS NOT NULL AS reblogged,"
        " (SELECT true FROM mutes m WHERE m.muter_id = %(viewer)s"
        "   AND m.muted_id = s.account_id) IS NOT NULL AS muted,"
        f" {_ACCOUNT_VERSION}, {COUNTED}{relationship}"
        " FROM statuses s JOIN status_counts sc ON sc.status_id = s.id"
        " JOIN users u ON u.id = s.account_id JOIN account_counts ac ON ac.user_id = u.id"
        f" LEFT JOIN remote_actors ra ON ra.user_id = u.id{lateral}{join}"
        f" WHERE s.id IN (SELECT id FROM wanted) AND {visible}"
    )


async def load_txn(
    txn: Txn, ids: Sequence[int], viewer_id: int | None, *, godmode: bool = False
) -> Loaded:
    """Everything needed to show the statuses ``ids`` to ``viewer_id``; ids
    the viewer may not see (unless ``godmode``) or that do not exist are
    left out."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return Loaded(viewer_id, ())
    rows = await txn.fetchall(*load_query(ids, viewer_id, godmode=godmode), prepared=True)
    return await _loaded_txn(txn, rows, ids, viewer_id)


async def load_page_txn(
    txn: Txn,
    page: Query,
    viewer_id: int | None,
    *,
    status_column: str = "id",
    key_column: str = "id",
) -> tuple[Loaded, list[int]]:
    """One page of a listing loaded for ``viewer_id`` (see
    :func:`load_page_query`), and the keys it is paginated by, newest
    first: the page and its statuses in one statement, so in one snapshot."""
    rows = await txn.fetchall(
        *load_page_query(page, viewer_id, status_column=status_column, key_column=key_column),
        prepared=True,
    )
    paged = sorted(
        ((row["page_key"], row["id"]) for row in rows if row["page_key"] is not None), reverse=True
    )
    loaded = await _loaded_txn(txn, rows, [status_id for _, status_id in paged], viewer_id)
    return loaded, [key for key, _ in paged]


async def _loaded_txn(
    txn: Txn, rows: list[dict[str, Any]], ids: list[int], viewer_id: int | None
) -> Loaded:
    """The loader's ``rows`` with their posts and accounts: ``ids`` in
    order, a reblog only with its original."""
    posts = await _posts_txn(txn, {row["id"]: row["version"] for row in rows})
    statuses = {row["id"]: _shown(row, posts[row["id"]]) for row in rows if row["id"] in posts}
    order = tuple(
        i
        for i in ids
        if i in statuses
        and (statuses[i].status.reblog_of_id is None or statuses[i].status.reblog_of_id in statuses)
    )
    loaded = Loaded(viewer_id, order, statuses)
    versions = {
        row["account_id"]: _figures(loaded, row["account_id"], row)
        for row in rows
        if row["id"] in statuses
    }
    others: set[int] = set()
    media_ids: list[int] = []
    for shown in statuses.values():
        others.update(shown.mention_ids)
        if shown.status.in_reply_to_account_id is not None:
            others.add(shown.status.in_reply_to_account_id)
        media_ids.extend(shown.media_ids)
    others -= versions.keys()
    if others:
        versions |= await _account_figures_txn(txn, loaded, others, counted=(), related=())
    await _accounts_txn(txn, loaded, versions)
    if media_ids:
        media = await txn.fetchall(_MEDIA, (media_ids,), prepared=True)
        loaded.media.update((row["id"], from_row(Media, row)) for row in media)
    return loaded


def _shown(row: dict[str, Any], post: _Post) -> Shown:
    return Shown(
        status=post.status,
        replies_count=row["replies_count"],
        reblogs_count=row["reblogs_count"],
        favourites_count=row["favourites_count"],
        favourited=row["favourited"],
        reblogged=row["reblogged"],
        muted=row["muted"],
        mention_ids=post.mention_ids,
        tags=post.tags,
        emojis=post.emojis,
        media_ids=post.media_ids,
        version=row["version"],
    )


async def _posts_txn(txn: Txn, versions: dict[int, int]) -> dict[int, _Post]:
    """The posts of the statuses ``versions`` names, at those versions: kept
    ones, the others read.  A status whose row changed since its version was
    read is left out: its visibility was checked on the older row."""
    posts, missing = _kept(txn, "post", versions)
    if missing:
        for row in await txn.fetchall(_POSTS, (missing,), prepared=True):
            version = row.pop("version")
            post = _Post(
                status=from_row(Status, {name: row[name] for name in STATUS_FIELDS}),
                mention_ids=tuple(row["mention_ids"]),
                tags=tuple(row["tags"]),
                emojis=tuple((e[0], e[1]) for e in row["emojis"]),
                media_ids=tuple(row["media_ids"]),
            )
            txn.keep("post", post.status.id, version, post)
            if version == versions[post.status.id]:
                posts[post.status.id] = post
    return posts


def _kept(txn: Txn, kind: str, versions: dict[int, Any]) -> tuple[dict[int, Any], list[int]]:
    """What ``txn`` keeps of the rows of ``kind`` that ``versions`` names, at
    those versions, and the ids of the others."""
    kept, missing = {}, []
    for ident, version in versions.items():
        value = txn.kept(kind, ident, version)
        if value is None:
            missing.append(ident)
        else:
            kept[ident] = value
    return kept, missing


async def add_accounts_txn(
    txn: Txn,
    loaded: Loaded,
    ids: Collection[int],
    *,
    counted: Collection[int],
    related: Collection[int] = (),
) -> None:
    """Add the accounts ``ids`` to ``loaded``, the follow and statuses
    counts of those among them in ``counted`` and the viewer's relationship
    to those in ``related``."""
    if ids:
        versions = await _account_figures_txn(txn, loaded, ids, counted=counted, related=related)
        await _accounts_txn(txn, loaded, versions)


async def _account_figures_txn(
    txn: Txn,
    loaded: Loaded,
    ids: Collection[int],
    *,
    counted: Collection[int],
    related: Collection[int],
) -> dict[int, AccountVersion]:
    """The versions of the accounts ``ids``, with :func:`add_accounts_txn`'s
    figures added to ``loaded``, in one statement."""
    args: dict[str, Any] = {"ids": list(ids)}
    relationship, join = "", ""
    if related:
        assert loaded.viewer_id is not None
        relationship = ", u.id = ANY(%(related)s::bigint[]) AS related, " + ", ".join(
            f"r.{name} AS related_{name}" for name in RELATIONSHIP_FIELDS
        )
        join = (
            f" LEFT JOIN LATERAL ({relationship_sql('u.id')}) r"
            " ON u.id = ANY(%(related)s::bigint[])"
        )
        args.update(related=list(related), viewer=loaded.viewer_id)
    rows = await txn.fetchall(
        f"SELECT u.id, {_ACCOUNT_VERSION}, {COUNTED}{relationship}"
        " FROM users u JOIN account_counts ac ON ac.user_id = u.id"
        f" LEFT JOIN remote_actors ra ON ra.user_id = u.id{join}"
        " WHERE u.id = ANY(%(ids)s::bigint[])",
        args,
        prepared=True,
    )
    return {
        row["id"]: _figures(loaded, row["id"], row, counted=row["id"] in counted) for row in rows
    }


def _figures(
    loaded: Loaded, account_id: int, row: dict[str, Any], *, counted: bool = True
) -> AccountVersion:
    """Add the figures of ``account_id`` a loader row holds to ``loaded``
    (its counts only when ``counted``); the account's version."""
    if counted:
        loaded.follow_counts[account_id] = FollowCounts(
            row["counted_followers"], row["counted_following"]
        )
        loaded.statuses_counts[account_id] = row["counted_statuses"]
    if row.get("related"):
        facts = {name: row[f"related_{name}"] for name in RELATIONSHIP_FIELDS}
        loaded.relationships[account_id] = Relationship(target_id=account_id, **facts)
    return row["account_version"], row["document_version"]


async def _accounts_txn(txn: Txn, loaded: Loaded, versions: dict[int, AccountVersion]) -> None:
    """Add the accounts ``versions`` names to ``loaded``: kept ones, the others
    read (at whatever version they have now: what an account's row says
    decides nothing about what may be seen)."""
    kept, missing = _kept(txn, "account", versions)
    for account_id, account in kept.items():
        _add_account(loaded, account, versions[account_id])
    if missing:
        for row in await txn.fetchall(_ACCOUNTS, (missing,), prepared=True):
            version = (row.pop("version"), row.pop("document_version"))
            document = row.pop("remote_document")
            account = (from_row(User, row), document)
            txn.keep("account", row["id"], version, account)
            _add_account(loaded, account, version)


def _add_account(
    loaded: Loaded, account: tuple[User, dict[str, Any] | None], version: AccountVersion
) -> None:
    user, document = account
    loaded.users[user.id] = user
    loaded.account_versions[user.id] = version
    if document is not None:
        loaded.remote_documents[user.id] = document
