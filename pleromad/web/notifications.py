"""``/api/v1/notifications``: the reader's notifications, one, a page of them,
dismissing one or all.

Mutating routes take the ``read`` scope, as the reference guarded them
(mastodon-subset §6.11).
"""

from __future__ import annotations

from typing import Any

from pleromad.domain import notifications, profile
from pleromad.errors import ApiError
from pleromad.ids import parse_id
from pleromad.model import NotificationFilters, User
from pleromad.runtime import Runtime
from pleromad.views.notifications import render_notifications
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.pagination import NOTIFICATIONS_MAX_LIMIT, page_params, paginated

RECORD_NOT_FOUND = "Record not found"
CANNOT_DISMISS = "Cannot dismiss notification"


def notification_id(text: str) -> int | None:
    """The notification id ``text`` names, or None when it names none."""
    return parse_id(text)


class NotificationsApi:
    app = api_app()
    prefixes = ("/api/v1/notifications",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/notifications", "GET", auth=Auth.REQUIRED, scope="read")
    async def list(self, call: Call) -> Any:
        params = call.params
        window = page_params(params, NOTIFICATIONS_MAX_LIMIT)
        only = params.list("types")
        filters = NotificationFilters(
            exclude_types=tuple(params.list("exclude_types")),
            types=tuple(only) if only else None,
            with_muted=bool(params.bool("with_muted", False)),
        )
        shown = await notifications.list_notifications(self.rt, call.user.id, window, filters)
        return paginated(
            call,
            self._render(call.user, shown),
            [n.id for n in shown.notifications],
            base_url=self.rt.config.server.base_url,
        )

    @route(app, "/api/v1/notifications/<id>", "GET", auth=Auth.REQUIRED, scope="read")
    async def one(self, call: Call) -> Any:
        wanted = notification_id(call.params["id"])
        rendered = (
            []
            if wanted is None
            else self._render(
                call.user, await notifications.get_notification(self.rt, call.user.id, wanted)
            )
        )
        if not rendered:
            raise ApiError(RECORD_NOT_FOUND, status=404)
        return rendered[0]

    @route(app, "/api/v1/notifications/clear", "POST", auth=Auth.REQUIRED, scope="read")
    async def clear(self, call: Call) -> Any:
        await notifications.clear(self.rt, call.user.id)
        return {}

    @route(app, "/api/v1/notifications/dismiss", "POST", auth=Auth.REQUIRED, scope="read")
    async def dismiss(self, call: Call) -> Any:
        return await self._dismiss(call, call.params.required_str("id"))

    @route(app, "/api/v1/notifications/<id>/dismiss", "POST", auth=Auth.REQUIRED, scope="read")
    async def dismiss_by_path(self, call: Call) -> Any:
        """Mastodon 3's spelling of dismiss."""
        return await self._dismiss(call, call.params["id"])

    async def _dismiss(self, call: Call, text: str) -> Any:
        wanted = notification_id(text)
        if wanted is None or not await notifications.dismiss(self.rt, call.user.id, wanted):
            raise ApiError(CANNOT_DISMISS, status=403)
        return {}

    def _render(self, reader: User, shown: notifications.Shown) -> list[dict[str, Any]]:
        loaded = shown.loaded
        hidden = profile.hidden_accounts(loaded.users.values(), reader, self.rt.config)
        return render_notifications(
            shown.notifications, loaded, config=self.rt.config, viewer=reader, hidden=hidden
        )
