"""Notifications: the reader's, one or a page of them, dismissing one or
all (``/api/v1/notifications``), and marking one seen (DECISIONS 15).

Mastodon's mutating routes take the ``read`` scope, as the reference
guarded them (mastodon-subset §6.11).
"""

from __future__ import annotations

import builtins
from typing import Any

from pleromad.domain import notifications, profile
from pleromad.errors import ApiError, Forbidden
from pleromad.ids import parse_id
from pleromad.model import NotificationFilters, User
from pleromad.openapi.entities import SUCCESS
from pleromad.openapi.spec import (
    FLAG,
    ID,
    PAGINATED,
    STRING,
    Operation,
    Schema,
    answer,
    array,
    closed,
    page_fields,
    ref,
)
from pleromad.runtime import Runtime
from pleromad.views.notifications import render_notifications
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.pagination import NOTIFICATIONS_MAX_LIMIT, page_params, paginated

RECORD_NOT_FOUND = "Record not found"
CANNOT_DISMISS = "Cannot dismiss notification"
CANNOT_GET = "Cannot get notification"


def notification_id(text: str) -> int | None:
    """The notification id ``text`` names, or None when it names none."""
    return parse_id(text)


_TYPE: Schema = {
    **STRING,
    "description": (
        "mention, favourite, reblog, follow or pleroma:report; other values match no notification."
    ),
}

_EMPTY = answer(closed({}), "Done.")

_CANNOT_DISMISS = (
    "Invalid credentials, a token without `read`, or an id that names no"
    " notification of the reader's."
)

_DISMISS = Operation(
    "Dismiss one notification.",
    responses={200: _EMPTY},
    fields={"id": ID},
    required=("id",),
    description="Deletes it for good.",
    errors={403: _CANNOT_DISMISS},
)


class NotificationsApi:
    app = api_app()
    tag = "Notifications"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/notifications",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "The reader's notifications.",
            responses={
                200: answer(
                    array(ref("Notification")),
                    "Newest first; a notification about a status the reader may not"
                    " see is left out (a page may be short).",
                    **PAGINATED,
                )
            },
            fields={
                **page_fields(80),
                "types": array({**_TYPE, "description": "Only these types, when given."}),
                "exclude_types": array({**_TYPE, "description": "Not these types."}),
                "with_muted": {**FLAG, "description": "Include notifications from muted accounts."},
            },
        ),
    )
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

    @route(
        app,
        "/api/v1/notifications/<id>",
        "GET",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "One of the reader's notifications.",
            responses={200: answer(ref("Notification"))},
            errors={
                404: "No notification of the reader's has this id, or its status is"
                " one the reader may no longer see."
            },
        ),
    )
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

    @route(
        app,
        "/api/v1/notifications/clear",
        "POST",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "Delete all the reader's notifications.",
            responses={200: _EMPTY},
        ),
    )
    async def clear(self, call: Call) -> Any:
        await notifications.clear(self.rt, call.user.id)
        return {}

    @route(
        app, "/api/v1/notifications/dismiss", "POST", auth=Auth.REQUIRED, scope="read", doc=_DISMISS
    )
    async def dismiss(self, call: Call) -> Any:
        return await self._dismiss(call, call.params.required_str("id"))

    @route(
        app,
        "/api/v1/notifications/<id>/dismiss",
        "POST",
        auth=Auth.REQUIRED,
        scope="read",
        doc=Operation(
            "Dismiss one notification (Mastodon 3's path).",
            responses={200: _EMPTY},
            description="Deletes it for good.",
            errors={403: _CANNOT_DISMISS},
        ),
    )
    async def dismiss_by_path(self, call: Call) -> Any:
        """Mastodon 3's spelling of dismiss."""
        return await self._dismiss(call, call.params["id"])

    async def _dismiss(self, call: Call, text: str) -> Any:
        wanted = notification_id(text)
        if wanted is None or not await notifications.dismiss(self.rt, call.user.id, wanted):
            raise ApiError(CANNOT_DISMISS, status=403)
        return {}

    @route(
        app,
        "/api/pleroma/notifications/read",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Mark one notification seen.",
            responses={200: SUCCESS},
            fields={"id": ID},
            required=("id",),
            errors={
                403: "Invalid credentials, a token without `write`, or an id that"
                " names no notification of the reader's."
            },
        ),
    )
    async def read(self, call: Call) -> Any:
        wanted = notification_id(call.params.required_str("id"))
        if wanted is None or not await notifications.mark_seen(self.rt, call.user.id, wanted):
            raise Forbidden(CANNOT_GET)
        return {"status": "success"}

    def _render(self, reader: User, shown: notifications.Shown) -> builtins.list[dict[str, Any]]:
        hidden = profile.hidden_accounts(shown.loaded.users.values(), reader, self.rt.config)
        return render_notifications(
            shown.notifications,
            shown.loaded,
            config=self.rt.config,
            viewer=reader,
            hidden=hidden,
            reports=shown.reports,
            cache=self.rt.renders,
        )
