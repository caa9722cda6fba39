"""The end of an account by its owner (DECISIONS 14): deleting or disabling it."""

from __future__ import annotations

from typing import Any

from pleromad.domain import lifecycle
from pleromad.errors import BadRequest
from pleromad.openapi.spec import Operation, answer, busy, closed
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.client_ip import client_key
from pleromad.web.params import Params

CONFIRM = {"password": {"type": "string", "description": "The account's password."}}

WRONG_PASSWORD = (
    "Invalid credentials, a token without `write`, or a missing or wrong password"
    " (`Invalid password.`)."
)

THROTTLED_LOGIN = "Too many failed logins from this address (a right password included)."


def _end_of_account(summary: str, description: str) -> Operation:
    return Operation(
        summary,
        responses={
            200: answer(closed({"status": {"const": "success"}})),
            503: busy("password checks"),
        },
        fields=CONFIRM,
        errors={403: WRONG_PASSWORD, 429: THROTTLED_LOGIN},
        description=description + "  A wrong password counts as a failed login.",
    )


class LifecycleApi:
    app = api_app()
    tag = "Account lifecycle"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/pleroma/delete_account",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_end_of_account(
            "Delete the caller's account.",
            "Signs it out, leaves a tombstone and removes its content in the background.",
        ),
    )
    async def delete_account(self, call: Call) -> Any:
        await lifecycle.delete_own_account(
            self.rt, call.user, _password(call.params), self._client_key(call)
        )
        return {"status": "success"}

    @route(
        app,
        "/api/pleroma/disable_account",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=_end_of_account("Deactivate the caller's account.", "Also signs it out everywhere."),
    )
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
