"""The end of an account by its owner (DECISIONS 14): deleting or disabling it."""

from __future__ import annotations

from typing import Any

from pleromad.domain import lifecycle
from pleromad.errors import BadRequest
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.client_ip import client_key
from pleromad.web.params import Params


class LifecycleApi:
    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/api/pleroma/delete_account", "POST", auth=Auth.REQUIRED, scope="write")
    async def delete_account(self, call: Call) -> Any:
        await lifecycle.delete_own_account(
            self.rt, call.user, _password(call.params), self._client_key(call)
        )
        return {"status": "success"}

    @route(app, "/api/pleroma/disable_account", "POST", auth=Auth.REQUIRED, scope="write")
    async def disable_account(self, call: Call) -> Any:
        await lifecycle.disable_own_account(
            self.rt, call.user, _password(call.params), self._client_key(call)
        )
        return {"status": "success"}

    def _client_key(self, call: Call) -> str:
        return client_key(call.request, self.rt.config.proxy.trusted)


def _password(params: Params) -> str | None:
    """The confirming password; a value of the wrong type is no password."""
    try:
        return params.str("password")
    except BadRequest:
        return None
