"""Timelines: home, public, one account's statuses, one account's favourites.

Each gives one page of statuses loaded for the reader and the keys the page
is paginated by (status ids; favourite ids for favourites), newest first.
Who may see what is decided by the store's page queries, all built on the
one visibility predicate, and the page is loaded in the same statement.
A listing only reads, and each of its statements is consistent in itself
(the page with its statuses in one, their accounts in the next), which is
all a READ COMMITTED transaction gave it: listings run their statements
outside one (:meth:`pleromad.db.pool.Database.run_reads`), sparing the
BEGIN and COMMIT round trips.
An account's favourites follow DECISIONS 17: anyone may read them unless the
account hides them (``hide_favorites``), and then only the owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain.profile import find_account, visible_to
from pleromad.errors import Forbidden, NotFound
from pleromad.ids import parse_id
from pleromad.model import Loaded, StatusFilters, User
from pleromad.store import loader, timelines, users
from pleromad.store.timelines import Window

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

FAVOURITES_HIDDEN = "Can't get favorites"


# A page of a listing, loaded for the reader, and the keys it is paginated by.
Listing = tuple[Loaded, list[int]]


def _viewer_id(viewer: User | None) -> int | None:
    return None if viewer is None else viewer.id


async def _loaded_txn(txn: Txn, page: timelines.Query, viewer_id: int | None) -> Listing:
    return await loader.load_page_txn(txn, page, viewer_id)


async def home(rt: Runtime, viewer: User, window: Window, filters: StatusFilters) -> Listing:
    """The reader's own statuses and those of the accounts they follow."""
    return await rt.db.run_reads(
        "home timeline", _loaded_txn, timelines.home_query(viewer.id, window, filters), viewer.id
    )


async def public(
    rt: Runtime, viewer: User | None, window: Window, filters: StatusFilters
) -> Listing:
    """Public statuses, for anyone."""
    viewer_id = _viewer_id(viewer)
    return await rt.db.run_reads(
        "public timeline",
        _loaded_txn,
        timelines.public_query(viewer_id, window, filters),
        viewer_id,
    )


async def account_statuses(
    rt: Runtime,
    ref: str,
    viewer: User | None,
    window: Window,
    filters: StatusFilters,
    *,
    pinned: bool = False,
) -> Listing:
    """The statuses of the account ``ref`` (id or nickname) the reader may
    see; NotFound for an account they may not see.  Nothing can be
    pinned yet, so the pinned list is empty."""
    try:
        account = await find_account(rt, ref, viewer)
    except NotFound:
        raise NotFound() from None  # the record's message, not the account's
    viewer_id = _viewer_id(viewer)
    if pinned:
        return Loaded(viewer_id, ()), []
    return await rt.db.run_reads(
        "account statuses",
        _loaded_txn,
        timelines.account_statuses_query(account.id, viewer_id, window, filters),
        viewer_id,
    )


async def favourites(rt: Runtime, account_ref: str, viewer: User | None, window: Window) -> Listing:
    """The favourites of the account with id ``account_ref`` whose statuses
    the reader may see, newest favourite first, keyed by the favourites'
    ids (DECISIONS 17); NotFound for an account the reader may not
    see, Forbidden when the account hides them from the reader."""
    account_id = parse_id(account_ref) if account_ref == account_ref.strip() else None
    if account_id is None:
        raise NotFound()
    return await rt.db.run_reads(
        "account favourites", _favourites_txn, rt.config, account_id, viewer, window
    )


async def _favourites_txn(
    txn: Txn, config: Config, owner_id: int, viewer: User | None, window: Window
) -> Listing:
    viewer_id = _viewer_id(viewer)
    # Most pages: one statement, whose rows vouch for the owner.  An empty
    # one says nothing about them: look, and take the page again unguarded.
    listing = await favourites_page_txn(txn, owner_id, viewer_id, window, shown_by_owner=True)
    if listing[1]:
        return listing
    owner = await users.get_user_txn(txn, owner_id)
    if owner is None or not visible_to(owner, viewer, config):
        raise NotFound()
    if owner.hide_favorites and viewer_id != owner.id:
        raise Forbidden(FAVOURITES_HIDDEN)
    return await favourites_page_txn(txn, owner.id, viewer_id, window)


async def favourites_page_txn(
    txn: Txn, owner_id: int, viewer_id: int | None, window: Window, *, shown_by_owner: bool = False
) -> Listing:
    """One page of ``owner_id``'s favourites as ``viewer_id`` may see them,
    loaded, with the favourite ids that key it (``shown_by_owner``: see
    :func:`pleromad.store.timelines.favourites_query`)."""
    return await loader.load_page_txn(
        txn,
        timelines.favourites_query(owner_id, viewer_id, window, shown_by_owner=shown_by_owner),
        viewer_id,
        status_column="status_id",
    )
