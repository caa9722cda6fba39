"""``/api/pleroma/*``: the Pleroma utility endpoints."""

from __future__ import annotations

from typing import Any

from pleromad.domain import health
from pleromad.runtime import Runtime
from pleromad.views import health as health_view
from pleromad.web.base import Call, JsonResponse, api_app, route


class PleromaApi:
    app = api_app()
    prefixes = ("/api/pleroma",)

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/pleroma/healthcheck", "GET")
    async def healthcheck(self, call: Call) -> Any:
        if not self.rt.config.instance.healthcheck:
            return JsonResponse({}, 503)
        state = await health.check(self.rt.db, self.rt.clock)
        return JsonResponse(health_view.render(state), 200 if state.healthy else 503)
