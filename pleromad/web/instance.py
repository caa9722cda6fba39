"""The instance: its description (`/api/v1/instance`), its peers and its
health (`/api/pleroma/healthcheck`)."""

from __future__ import annotations

from typing import Any

from pleromad.domain import health
from pleromad.openapi.spec import STRING, Operation, answer, array, closed, ref
from pleromad.runtime import Runtime
from pleromad.store import users
from pleromad.views import health as health_view
from pleromad.views.instance import render_instance
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.negotiation import JSON_OR_HTML


class InstanceApi:
    app = api_app()
    tag = "Instance"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/instance",
        "GET",
        doc=Operation(
            "What this instance is and what it allows.",
            responses={200: answer(ref("Instance"))},
        ),
    )
    async def instance(self, call: Call) -> Any:
        user_count = await self.rt.db.run_interaction(
            "instance user count", users.count_active_local_users_txn
        )
        return render_instance(self.rt.config, user_count=user_count)

    @route(
        app,
        "/api/v1/instance/peers",
        "GET",
        doc=Operation(
            "The other domains this instance knows: none, without federation.",
            responses={200: answer({**array(STRING), "maxItems": 0})},
        ),
    )
    async def peers(self, call: Call) -> Any:
        return []  # no federation: no other domain is known

    @route(
        app,
        "/api/pleroma/healthcheck",
        "GET",
        accept=JSON_OR_HTML,
        doc=Operation(
            "Whether this node can serve: its database pool and memory.",
            responses={
                200: answer(ref("Health"), "Healthy: the database answered a ping."),
                503: answer(
                    {"anyOf": [ref("Health"), closed({})]},
                    "{} when the healthcheck is disabled ([instance] healthcheck); otherwise the"
                    " figures with healthy false: no idle connection, or the ping failed or timed out.",
                ),
            },
        ),
    )
    async def healthcheck(self, call: Call) -> Any:
        if not self.rt.config.instance.healthcheck:
            return JsonResponse({}, 503)
        state = await health.check(self.rt.db, self.rt.clock)
        return JsonResponse(health_view.render(state), 200 if state.healthy else 503)
