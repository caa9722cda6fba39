"""``POST /api/v1/reports``: telling the moderators about an account."""

from __future__ import annotations

from typing import Any

from pleromad.domain import reports
from pleromad.openapi.spec import FLAG, ID, Operation, answer, array, enum, ref
from pleromad.runtime import Runtime
from pleromad.views.dates import masto_date
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.listing import render_accounts


class ReportsApi:
    app = api_app()
    tag = "Reports"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(
        app,
        "/api/v1/reports",
        "POST",
        auth=Auth.REQUIRED,
        scope="write",
        doc=Operation(
            "Report an account, and some of its statuses, to the moderators.",
            responses={200: answer(ref("Report"), "What was reported; nothing of who handles it.")},
            fields={
                "account_id": ID,
                "status_ids": {**array(ID), "description": "Statuses of that account."},
                "comment": {"type": "string", "maxLength": reports.COMMENT_MAX},
                "category": {
                    **enum(*reports.CATEGORIES),
                    "description": "Default `violation` with rule_ids, else `other`.",
                },
                "rule_ids": array(ID),
                "forward": {
                    **FLAG,
                    "description": "Also tell a remote account's server (once federated).",
                },
            },
            required=("account_id",),
            errors={
                400: "Malformed parameters.",
                404: (
                    "No such account, or a status that is not one of the account's that the"
                    " reporter can see (nothing is filed)."
                ),
                422: "An unknown category, a comment over 1000 characters, or a bad rule id.",
            },
            description=(
                "Every admin and moderator can then see the report, with the statuses as they"
                " were when reported."
            ),
        ),
    )
    async def report(self, call: Call) -> Any:
        params = call.params
        form = reports.ReportForm(
            account_id=params.required_str("account_id"),
            status_ids=params.list("status_ids"),
            comment=params.str("comment") or "",
            category=params.str("category"),
            rule_ids=params.list("rule_ids"),
            forward=bool(params.bool("forward", False)),
        )
        report, account, status_ids = await reports.file_report(self.rt, call.user, form)
        (target,) = await render_accounts(self.rt, [account], call.user)
        return {
            "id": str(report.id),
            "action_taken": False,
            "action_taken_at": None,
            "category": report.category,
            "comment": report.comment,
            "forwarded": report.forwarded,
            "created_at": masto_date(report.created_at),
            "status_ids": [str(i) for i in status_ids],
            "rule_ids": list(report.rule_ids),
            "target_account": target,
        }
