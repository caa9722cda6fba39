"""Property-based fuzzing of every route, from the served OpenAPI document.

schemathesis runs in its own processes against the daemon's real tree on a
loopback port, anonymously and as an admin with every scope, at the same
time, for a bounded time: no answer may be >= 500, every status must be
documented, and every body must match its schema (every error is then
``{"error": string}``, the one Error schema).  ``tools/fuzz.py`` is the
long run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.utils import getProcessOutputAndValue

from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.test_auth import make_token, make_user
from tools.fuzz import Summary, schemathesis, summarize

SECONDS = 30
SEED = 20261127


async def fuzz(base: str, report: Path, token: str | None) -> Summary:
    command = schemathesis(base, report, token=token, max_examples=25, max_time=SECONDS, seed=SEED)
    # schemathesis keeps a cache in its working directory: not in ours.
    out, err, _ = await getProcessOutputAndValue(
        command[0], command[1:], env=os.environ, path=str(report.parent)
    )
    return summarize(report, (out + err).decode("utf-8", "replace"))


@pytest_twisted.ensureDeferred
async def test_no_route_fails_its_contract_under_fuzzing(
    rt: Runtime, client: Client, tmp_path: Path
) -> None:
    admin = await make_user(rt, "fuzzadmin", is_admin=True)
    token = await make_token(rt, admin, ["read", "write", "follow", "push"])
    anonymous, authenticated = await gatherResults(
        [
            Deferred.fromCoroutine(fuzz(client.base, tmp_path / "anonymous.ndjson", None)),
            Deferred.fromCoroutine(
                fuzz(client.base, tmp_path / "admin.ndjson", token.access_token)
            ),
        ]
    )
    for summary in (anonymous, authenticated):
        assert summary.requests > 300, summary.output[-3000:]
        assert summary.server_errors == 0, summary.output[-5000:]
        assert summary.failures == (), "\n".join(summary.failures) + summary.output[-5000:]
