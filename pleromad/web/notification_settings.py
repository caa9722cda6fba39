"""``PUT /api/pleroma/notification_settings``: which accounts may notify
the caller (DECISIONS 20)."""

from __future__ import annotations

from typing import Any

from pleromad.domain import notifications
from pleromad.runtime import Runtime
from pleromad.views.accounts import NOTIFICATION_SETTINGS
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route


class NotificationSettingsApi:
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
        return {"status": "success"}
