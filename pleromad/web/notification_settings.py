"""``PUT /api/pleroma/notification_settings``: which accounts may notify
the caller (DECISIONS 20)."""

from __future__ import annotations

from typing import Any

from pleromad.domain import notifications
from pleromad.openapi.entities import SUCCESS
from pleromad.openapi.spec import FLAG, Operation
from pleromad.runtime import Runtime
from pleromad.views.accounts import NOTIFICATION_SETTINGS
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route


class NotificationSettingsApi:
    app = api_app()
    tag = "Notification settings"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/pleroma/notification_settings",
        "PUT",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Change the reader's notification settings.",
            responses={200: SUCCESS},
            fields={
                "followers": {**FLAG, "description": "Notifications from the reader's followers."},
                "follows": {**FLAG, "description": "From the accounts the reader follows."},
                "non_followers": {**FLAG, "description": "From accounts not following the reader."},
                "non_follows": {**FLAG, "description": "From accounts the reader does not follow."},
                "remote": {**FLAG, "description": "From remote accounts."},
                "local": {**FLAG, "description": "From local accounts."},
            },
            description=(
                "Each setting given is changed, the others kept (all default to"
                " true); other parameters are ignored.  A setting that is not a"
                " boolean is a 400 and nothing changes."
            ),
        ),
    )
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
