"""``POST /api/pleroma/follow_import``: follow every account of a list
(DECISIONS 10: answered at once; a durable job makes the follows)."""

from __future__ import annotations

from typing import Any

from pleromad.domain import follow_import
from pleromad.errors import BadRequest, MissingField
from pleromad.openapi.spec import FILE, Operation, answer
from pleromad.runtime import Runtime
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.params import Params, Upload


class FollowImportApi:
    app = api_app()
    tag = "Follow import"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/pleroma/follow_import",
        "POST",
        auth=Auth.REQUIRED,
        scope="follow",
        doc=Operation(
            "Follow the local accounts of a list, in the background.",
            responses={200: answer({"const": "job started"}, "Queued; a JSON string.")},
            fields={
                "list": {
                    "type": "string",
                    "description": "Account addresses (user@host or profile URLs), one a line or"
                    " comma-separated; a header line `account address` is skipped.",
                }
            },
            files={"list": FILE},
            required=("list",),
            errors={
                400: "Malformed parameters, no list, or an uploaded file that is not UTF-8 text.",
                413: "The body is over the upload limit, or the list names more than 20000 accounts.",
            },
            description="Remote addresses and unknown accounts are skipped.",
        ),
    )
    async def follow_import(self, call: Call) -> Any:
        await follow_import.start_import(self.rt, call.user, _follow_list(call.params))
        return "job started"


def _follow_list(params: Params) -> str:
    """``list``: the text itself, or an uploaded file of UTF-8 text."""
    value = params.get("list")
    if value is None:
        raise MissingField("list")
    if isinstance(value, str):
        return value
    if isinstance(value, Upload):
        try:
            return value.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("Invalid value for list: the file is not UTF-8 text") from None
    raise BadRequest("Invalid value for list: expected a string or a file")
