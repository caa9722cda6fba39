"""Notifications: creating them inside the transaction of the action that
causes them, an account's settings for them, and reading and dismissing them.

Statuses, favourites, reblogs and follows call the ``on_*_txn`` hooks after
writing their rows, so a notification exists exactly when its cause
committed, judged by the relationships as that transaction sees them.  A
notification is never created for the actor itself, for a deactivated,
deleted or remote account, for an account that blocks the actor or mutes it
with notifications, for one whose notification settings (DECISIONS 20)
exclude the actor, nor about a status the recipient may not see.  A
favourite or reblog is notified once per actor and status, however often it
is undone and done again; a follow is not notified again while the last one
from the same account is among the recipient's 20 latest notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pleromad.db.pool import Txn
from pleromad.model import Loaded, Notification, NotificationFilters, ShownReport
from pleromad.store import loader
from pleromad.store import notifications as store
from pleromad.store import reports as reports_store
from pleromad.store.timelines import Window

if TYPE_CHECKING:
    from pleromad.runtime import Runtime


# -- the hooks -------------------------------------------------------------------


async def on_status_txn(txn: Txn, status_id: int) -> None:
    """A new status: its mentioned accounts and, for a top-level status, the
    author's subscribers who may see it get a ``mention``."""
    await store.notify_status_txn(txn, status_id)


async def on_favourite_txn(txn: Txn, actor_id: int, status_id: int) -> None:
    """``actor_id`` favourited ``status_id``: its author gets a ``favourite``."""
    await store.notify_about_status_txn(txn, "favourite", actor_id, status_id)


async def on_reblog_txn(txn: Txn, actor_id: int, status_id: int) -> None:
    """``actor_id`` reblogged ``status_id`` (the original): its author gets a ``reblog``."""
    await store.notify_about_status_txn(txn, "reblog", actor_id, status_id)


async def on_follow_txn(txn: Txn, follower_id: int, followee_id: int) -> None:
    """A follow or follow request: the followed account gets a ``follow``."""
    await store.notify_follow_txn(txn, follower_id, followee_id)


# -- settings --------------------------------------------------------------------


async def update_settings(rt: Runtime, user_id: int, changes: dict[str, bool]) -> None:
    """Set some of the account's notification settings (keys of
    :data:`pleromad.views.accounts.NOTIFICATION_SETTINGS`), keeping the others."""
    if changes:
        await rt.db.run_interaction(
            "notification settings", store.merge_settings_txn, user_id, changes
        )


# -- the reader's notifications ----------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """Notifications ready for the views: the statuses they are about,
    loaded for the reader, and every account they show (the statuses'
    and the actors') with its figures in ``loaded``."""

    notifications: tuple[Notification, ...]
    loaded: Loaded
    reports: dict[int, ShownReport] = field(default_factory=dict)


async def list_notifications(
    rt: Runtime, user_id: int, window: Window, filters: NotificationFilters
) -> Shown:
    """A page of the account's notifications, newest first."""
    return await rt.db.run_interaction("list notifications", _list_txn, user_id, window, filters)


async def _list_txn(txn: Txn, user_id: int, window: Window, filters: NotificationFilters) -> Shown:
    found = await store.list_notifications_txn(txn, user_id, window, filters)
    return await _shown_txn(txn, user_id, found)


async def get_notification(rt: Runtime, user_id: int, notification_id: int) -> Shown:
    """The account's notification ``notification_id`` (none when it has no
    such notification it is shown)."""
    return await rt.db.run_interaction("get notification", _get_txn, user_id, notification_id)


async def _get_txn(txn: Txn, user_id: int, notification_id: int) -> Shown:
    found = await store.get_notification_txn(txn, user_id, notification_id)
    return await _shown_txn(txn, user_id, [] if found is None else [found])


async def _shown_txn(txn: Txn, reader_id: int, found: Sequence[Notification]) -> Shown:
    loaded = await loader.load_txn(
        txn, [n.status_id for n in found if n.status_id is not None], reader_id
    )
    # The statuses' authors are loaded with their figures; the other actors too.
    actors = sorted({n.actor_id for n in found} - set(loaded.follow_counts))
    if actors:
        await loader.add_accounts_txn(
            txn, loaded, actors, counted=actors, related=[a for a in actors if a != reader_id]
        )
    report_ids = [n.report_id for n in found if n.report_id is not None]
    reports = await reports_store.shown_by_id_txn(txn, report_ids) if report_ids else {}
    return Shown(tuple(found), loaded, reports)


async def mark_seen(rt: Runtime, user_id: int, notification_id: int) -> bool:
    """Mark one of the account's notifications seen; False if it is not one of them."""
    return await rt.db.run_interaction(
        "mark notification seen", store.mark_seen_txn, user_id, notification_id
    )


async def dismiss(rt: Runtime, user_id: int, notification_id: int) -> bool:
    """Delete one of the account's notifications; False if it is not one of them."""
    return await rt.db.run_interaction(
        "dismiss notification", store.delete_notification_txn, user_id, notification_id
    )


async def clear(rt: Runtime, user_id: int) -> None:
    await rt.db.run_interaction("clear notifications", store.clear_notifications_txn, user_id)


async def remove_user_notifications(rt: Runtime, user_id: int) -> None:
    """Delete the notifications a deleted account received and those it
    caused (a content step of account deletion; idempotent)."""
    await rt.db.run_interaction(
        "delete account notifications", store.delete_account_notifications_txn, user_id
    )
