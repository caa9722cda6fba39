"""``/api/pleroma/notification_settings`` and ``/api/pleroma/notifications/read``:
Pleroma's notification settings (DECISIONS 20) and marking one notification
seen (DECISIONS 15).

Their prefixes are longer than :class:`pleromad.web.pleroma.PleromaApi`'s
``/api/pleroma``, so these routes are served here.
"""

from __future__ import annotations

from typing import Any

from pleromad.domain import notifications
from pleromad.errors import Forbidden
from pleromad.runtime import Runtime
from pleromad.views.accounts import NOTIFICATION_SETTINGS
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.notifications import notification_id

CANNOT_GET = "Cannot get notification"
SUCCESS = {"status": "success"}


class PleromaNotificationsApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/pleroma/notification_settings", "PUT", auth=Auth.REQUIRED, scope="write")
    async def update_settings(self, call: Call) -> Any:
        """Each setting given is a boolean (true/false, 1/0, on/off, as JSON
        or text; anything else 400 and nothing changes); the others keep
        their value; parameters that are not settings are ignored."""
        changes = {
            name: value
            for name in NOTIFICATION_SETTINGS
            if (value := call.params.bool(name)) is not None
        }
        await notifications.update_settings(self.rt, call.user.id, changes)
        return SUCCESS

    @route(app, "/api/pleroma/notifications/read", "POST", auth=Auth.REQUIRED, scope="write")
    async def read(self, call: Call) -> Any:
        wanted = notification_id(call.params.required_str("id"))
        if wanted is None or not await notifications.mark_seen(self.rt, call.user.id, wanted):
            raise Forbidden(CANNOT_GET)
        return SUCCESS
