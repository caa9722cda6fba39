"""The Mastodon Notification entity (mastodon-subset §2.4), with Pleroma's
``is_seen``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pleromad.config import Config
from pleromad.model import Loaded, Notification, ShownReport, User
from pleromad.views.accounts import render_account
from pleromad.views.admin import render_report
from pleromad.views.cache import RenderCache
from pleromad.views.dates import masto_date
from pleromad.views.relationships import relationship_entity
from pleromad.views.statuses import render_statuses

# The types whose notification carries the status concerned.
WITH_STATUS = frozenset({"mention", "favourite", "reblog"})
REPORT = "pleroma:report"


def render_notification(
    notification: Notification,
    account: dict[str, Any],
    status: dict[str, Any] | None,
    report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``notification`` with its actor's Account and, for a mention,
    favourite or reblog, the Status it is about (the mentioning status, or
    the original that was favourited or reblogged), both rendered for the
    reader; a ``pleroma:report`` one carries its ``report`` as moderators
    see it."""
    rendered: dict[str, Any] = {
        "id": str(notification.id),
        "type": notification.type,
        "created_at": masto_date(notification.created_at),
        "account": account,
        "pleroma": {"is_seen": notification.seen},
    }
    if notification.type in WITH_STATUS:
        rendered["status"] = status
    if notification.type == REPORT:
        rendered["report"] = report
    return rendered


def render_notifications(
    notifications: tuple[Notification, ...],
    loaded: Loaded,
    *,
    config: Config,
    viewer: User,
    hidden: Collection[int],
    reports: Mapping[int, ShownReport] | None = None,
    cache: RenderCache | None = None,
) -> list[dict[str, Any]]:
    """The Notification entities of ``notifications``, in order, as
    ``viewer`` sees them; ``loaded`` holds their statuses and accounts.  One
    whose status the viewer may not see (it changed since the listing) is
    left out, as is a report notification whose report is gone; the accounts
    ``hidden`` from the viewer render as ``{}``; ``cache`` is
    :func:`pleromad.views.statuses.render_statuses`'."""
    reports = reports or {}
    statuses = dict(
        zip(
            loaded.order,
            render_statuses(loaded, config=config, viewer=viewer, hidden=hidden, cache=cache),
            strict=True,
        )
    )
    accounts: dict[int, dict[str, Any]] = {}
    rendered = []
    for notification in notifications:
        status = statuses.get(notification.status_id or 0)
        if notification.type in WITH_STATUS and status is None:
            continue
        report = reports.get(notification.report_id or 0)
        if notification.type == REPORT and report is None:
            continue
        actor = notification.actor_id
        if actor not in accounts:
            accounts[actor] = _account(loaded, actor, config, viewer, actor in hidden)
        rendered.append(
            render_notification(
                notification,
                accounts[actor],
                status,
                render_report(report, config) if report is not None else None,
            )
        )
    return rendered


def _account(
    loaded: Loaded, user_id: int, config: Config, viewer: User, hidden: bool
) -> dict[str, Any]:
    counts = loaded.follow_counts.get(user_id)
    relationship = loaded.relationships.get(user_id)
    return render_account(
        loaded.users[user_id],
        config=config,
        hidden=hidden,
        viewer_user=viewer,
        followers_count=counts.followers if counts else 0,
        following_count=counts.following if counts else 0,
        statuses_count=loaded.statuses_counts.get(user_id, 0),
        relationship=relationship_entity(relationship) if relationship else None,
        remote_document=loaded.remote_documents.get(user_id),
    )
