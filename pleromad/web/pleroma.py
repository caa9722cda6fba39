"""``/api/pleroma/*``: the Pleroma utility endpoints."""

from __future__ import annotations

from typing import Any

from twisted.web.iweb import IRequest

from pleromad.domain import health
from pleromad.runtime import Runtime
from pleromad.views import health as health_view
from pleromad.web.base import JsonResponse, api_app, route
from pleromad.web.params import Params


class PleromaApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/healthcheck", "GET")
    async def healthcheck(self, request: IRequest, params: Params) -> Any:
        if not self.rt.config.instance.healthcheck:
            return JsonResponse({}, 503)
        state = await health.check(self.rt.db, self.rt.clock)
        return JsonResponse(health_view.render(state), 200 if state.healthy else 503)
