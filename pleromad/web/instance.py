"""The instance: its description (`/api/v1/instance`), its peers and its
health (`/api/pleroma/healthcheck`).

The description is a prebuilt answer (see :mod:`pleromad.web.prebuilt`)
whose user count is at most :data:`FIGURES_SECONDS` old: accounts are also
made and removed by ``pleromad-ctl`` in another process.
"""

from __future__ import annotations

from typing import Any

from pleromad.domain import health
from pleromad.openapi.spec import STRING, Operation, answer, array, closed, no_content, ref
from pleromad.runtime import Runtime
from pleromad.store import users
from pleromad.views import health as health_view
from pleromad.views.instance import render_instance
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import Call, JsonResponse, api_app, route
from pleromad.web.negotiation import JSON, JSON_OR_HTML
from pleromad.web.prebuilt import (
    FIGURES_SECONDS,
    NOT_MODIFIED_DOC,
    Refreshed,
    Source,
    prebuilt_route,
)


class InstanceApi:
    app = api_app()
    tag = "Instance"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._instance = Refreshed(rt.clock, FIGURES_SECONDS, self._build_instance)

    @prebuilt_route(
        app,
        "/api/v1/instance",
        accept=JSON,
        doc=Operation(
            "What this instance is and what it allows.",
            description=f"The counts are at most {FIGURES_SECONDS:.0f} seconds old.",
            responses={
                200: answer(ref("Instance"), ETag="The answer's entity tag."),
                304: no_content(NOT_MODIFIED_DOC, ETag="The answer's entity tag."),
            },
        ),
    )
    def instance(self) -> Source:
        return self._instance

    async def _build_instance(self) -> Prebuilt:
        user_count = await self.rt.db.run_interaction(
            "instance user count", users.count_active_local_users_txn
        )
        return Prebuilt.of(render_instance(self.rt.config, user_count=user_count))

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
