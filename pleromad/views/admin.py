"""The Admin API's entities: an account as admins see it, and a report."""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.model import ShownReport, User
from pleromad.views.dates import masto_date
from pleromad.views.images import avatar_url


def render_admin_user(user: User, config: Config) -> dict[str, Any]:
    """The Admin API's user object."""
    return {
        "id": str(user.id),
        "avatar": avatar_url(user, config.server.base_url),
        "nickname": user.nickname,
        "display_name": user.display_name,
        "deactivated": user.deactivated,
        "local": user.local,
        "roles": {"admin": user.is_admin, "moderator": user.is_moderator},
        "tags": list(user.tags),
    }


def render_report(shown: ShownReport, config: Config) -> dict[str, Any]:
    """A report as moderators see it (Pleroma's admin report)."""
    report = shown.report
    return {
        "id": str(report.id),
        "state": report.state,
        "account": render_admin_user(shown.account, config),
        "actor": render_admin_user(shown.actor, config),
        "content": report.comment,
        "category": report.category,
        "rules": list(report.rule_ids),
        "forwarded": report.forwarded,
        "created_at": masto_date(report.created_at),
        "statuses": shown.statuses,
        "notes": [
            {
                "id": str(note.id),
                "user": render_admin_user(author, config),
                "content": note.content,
                "created_at": masto_date(note.created_at),
            }
            for note, author in shown.notes
        ],
    }
