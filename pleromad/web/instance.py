"""The instance: its description (`/api/v1/instance`), its peers and its
health (`/api/pleroma/healthcheck`)."""

from __future__ import annotations

from typing import Any

from pleromad.domain import health
from pleromad.runtime import Runtime
from pleromad.store import users
from pleromad.views import health as health_view
from pleromad.views.instance import render_instance
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.negotiation import JSON_OR_HTML


class InstanceApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/v1/instance", "GET")
    async def instance(self, call: Call) -> Any:
        user_count = await self.rt.db.run_interaction(
            "instance user count", users.count_active_local_users_txn
        )
        return render_instance(self.rt.config, user_count=user_count)

    @route(app, "/api/v1/instance/peers", "GET")
    async def peers(self, call: Call) -> Any:
        return []  # no federation: no other domain is known

    @route(app, "/api/pleroma/healthcheck", "GET", accept=JSON_OR_HTML)
    async def healthcheck(self, call: Call) -> Any:
        if not self.rt.config.instance.healthcheck:
            return JsonResponse({}, 503)
        state = await health.check(self.rt.db, self.rt.clock)
        return JsonResponse(health_view.render(state), 200 if state.healthy else 503)
