"""Two real ``twistd pleromad`` daemons on one database act as one server.

They are started once for the module, on two loopback ports, from one
configuration file: one PostgreSQL database and one data folder (so one
Maildir), as two nodes behind a reverse proxy would share them.  The test
process plays that proxy: ``[proxy] trusted`` names 127.0.0.1, so each test
picks its own client address in ``X-Forwarded-For`` and the rate-limit
buckets of one test never touch another's.  What stays per node is written
down in docs/operators.md ("Several nodes").
"""

from __future__ import annotations

import json
import mailbox
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import query
from tests.test_twistd import CLEAN_STOP, Daemon, ctl

PASSWORD = "correct horse battery"
INVITES = 12


@dataclass(frozen=True)
class Nodes:
    a: Daemon
    b: Daemon
    dsn: str
    data: Path
    # The admin's token, issued by node A.
    admin_token: str


def config_text() -> str:
    return "\n".join(
        [
            "[server]",
            'data_dir = "data"',
            "[instance]",
            # An invite-only instance: the admin's e-mailed invites are the
            # mail jobs counted below; registration attempts still count.
            "registrations_open = false",
            "invites_enabled = true",
            "[captcha]",
            "enabled = true",
            'provider = "native"',
            "[mail]",
            'backend = "maildir"',
            "[rate_limits]",
            "registration = [3, 1800]",
            "[proxy]",
            'trusted = ["127.0.0.1"]',
            "",
        ]
    )


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[Nodes]:
    root = tmp_path_factory.mktemp("nodes")
    config = root / "pleromad.toml"
    config.write_text(config_text())
    name = pg_server.create_database()
    dsn = pg_server.dsn_for(name)
    started: list[Daemon] = []
    try:
        made = ctl(root, "--config", str(config), "--dsn", dsn, "user", "new", "admin",
                   "admin@example.org", "--password", PASSWORD, "--admin", "-y")  # fmt: skip
        assert made.returncode == 0, made.stderr
        for node in ("a", "b"):
            # Each node's own working folder, so each has its own twistd.log.
            (root / node).mkdir()
            started.append(Daemon(root / node, "--config", str(config), "--dsn", dsn))
        for daemon in started:
            daemon.wait_healthy()
        a, b = started
        yield Nodes(a, b, dsn, root / "data", password_token(a, new_app(a)))
        for daemon in started:
            assert daemon.terminate() == CLEAN_STOP
            assert "Traceback" not in daemon.log.read_text()
    finally:
        for daemon in started:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
        pg_server.drop_database(name)


def new_app(node: Daemon) -> dict[str, str]:
    """An OAuth app registered through ``node``: its client id and secret."""
    app = requests.post(
        node.base + "/api/v1/apps",
        data={
            "client_name": "nodes",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
            "scopes": "read write follow",
        },
        timeout=30,
    ).json()
    return {"client_id": app["client_id"], "client_secret": app["client_secret"]}


def password_token(node: Daemon, app: dict[str, str]) -> str:
    """A token for the admin, issued by ``node`` (password grant)."""
    answer = requests.post(
        node.base + "/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": PASSWORD, **app},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def from_client(address: str) -> dict[str, str]:
    """What the reverse proxy adds for a client at ``address``."""
    return {"X-Forwarded-For": address}


def register(node: Daemon, address: str, **fields: str) -> requests.Response:
    return requests.post(
        node.base + "/api/account/register",
        data={
            "nickname": "newcomer",
            "email": "newcomer@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
            **fields,
        },
        headers=from_client(address),
        timeout=30,
    )


def test_a_token_issued_by_one_node_works_on_the_other(
    nodes: Nodes, checked_requests: None
) -> None:
    """An OAuth token issued by node A authenticates on node B; revoked
    through B, it is refused by both ("Invalid credentials.")."""
    app = new_app(nodes.a)
    token = password_token(nodes.a, app)
    for node in (nodes.a, nodes.b):
        me = requests.get(
            node.base + "/api/v1/accounts/verify_credentials", headers=bearer(token), timeout=30
        )
        assert me.status_code == 200 and me.json()["acct"] == "admin"

    revoked = requests.post(
        nodes.b.base + "/oauth/revoke",
        data={"token": token, **app},
        timeout=30,
    )
    assert revoked.status_code == 200
    for node in (nodes.a, nodes.b):
        me = requests.get(
            node.base + "/api/v1/accounts/verify_credentials", headers=bearer(token), timeout=30
        )
        assert (me.status_code, me.json()) == (403, {"error": "Invalid credentials."})


def test_a_browser_session_begun_on_one_node_works_on_the_other(
    nodes: Nodes, checked_requests: None
) -> None:
    """The _pleroma_key cookie set by a form login on A is signed with the
    secret every node reads from the database: B accepts it, and once signed
    out through B, A refuses it."""
    app = new_app(nodes.a)
    login = requests.post(
        nodes.a.base + "/oauth/authorize",
        data={
            "authorization[name]": "admin",
            "authorization[password]": PASSWORD,
            "authorization[client_id]": app["client_id"],
            "authorization[redirect_uri]": "urn:ietf:wg:oauth:2.0:oob",
            "authorization[response_type]": "code",
            "authorization[scope]": "read",
        },
        allow_redirects=False,
        timeout=30,
    )
    cookie = {"Cookie": f"_pleroma_key={login.cookies['_pleroma_key']}"}
    me = requests.get(
        nodes.b.base + "/api/v1/accounts/verify_credentials", headers=cookie, timeout=30
    )
    assert me.status_code == 200 and me.json()["acct"] == "admin"
    signed_out = requests.delete(nodes.b.base + "/auth/sign_out", headers=cookie, timeout=30)
    assert signed_out.status_code == 200
    me = requests.get(
        nodes.a.base + "/api/v1/accounts/verify_credentials", headers=cookie, timeout=30
    )
    assert me.status_code == 403


def test_a_captcha_answered_on_one_node_cannot_be_replayed_on_the_other(
    nodes: Nodes, checked_requests: None
) -> None:
    """A native captcha made by node A and answered there is used up for node
    B as well: B says "CAPTCHA already used"."""
    challenge = requests.get(nodes.a.base + "/api/pleroma/captcha", timeout=30).json()
    assert challenge["type"] == "native"
    answer = {"captcha_token": challenge["token"], "captcha_solution": "not it"}
    first = register(nodes.a, "192.0.2.10", **answer)
    assert first.status_code == 400
    assert json.loads(first.json()["error"]) == {"captcha": ["Invalid CAPTCHA"]}
    replayed = register(nodes.b, "192.0.2.10", **answer)
    assert replayed.status_code == 400
    assert json.loads(replayed.json()["error"]) == {"captcha": ["CAPTCHA already used"]}


def test_rate_limits_add_up_across_nodes(nodes: Nodes, checked_requests: None) -> None:
    """With ``registration = [3, 1800]``, two attempts on A and two on B
    from one client: the fourth is 429, whichever node it reaches."""
    answers = [register(node, "192.0.2.20") for node in (nodes.a, nodes.a, nodes.b, nodes.b)]
    assert [answer.status_code for answer in answers[:3]] == [400, 400, 400]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers[:3]] == ["2", "1", "0"]
    assert answers[3].status_code == 429
    assert answers[3].json() == {"error": "Throttled"}
    # Another client is not held back by this one.
    assert register(nodes.b, "192.0.2.21").status_code == 400


def test_an_idempotency_key_replays_across_nodes(nodes: Nodes, checked_requests: None) -> None:
    """A status posted on A under an Idempotency-Key and sent again to B
    under the same key: B answers the same status with
    ``Idempotent-Replayed: true``, and one status exists."""
    headers = {**bearer(nodes.admin_token), "Idempotency-Key": "nodes-1"}
    first = requests.post(
        nodes.a.base + "/api/v1/statuses", data={"status": "once"}, headers=headers, timeout=30
    )
    again = requests.post(
        nodes.b.base + "/api/v1/statuses", data={"status": "once"}, headers=headers, timeout=30
    )
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert query(nodes.dsn, "SELECT count(*) FROM statuses WHERE source = 'once'") == [(1,)]


def test_each_job_runs_once_with_workers_on_both_nodes(
    nodes: Nodes, checked_requests: None
) -> None:
    """Invites e-mailed through A and B alternately queue one mail job each;
    with both nodes' workers taking jobs from the one queue, every message is
    written once: as many messages as invites, one per address."""
    addresses = [f"friend{n}@example.org" for n in range(INVITES)]
    for n, address in enumerate(addresses):
        node = (nodes.a, nodes.b)[n % 2]
        sent = requests.post(
            node.base + "/api/pleroma/admin/users/email_invite",
            data={"email": address},
            headers=bearer(nodes.admin_token),
            timeout=30,
        )
        assert sent.status_code == 204, sent.text
    deadline = time.monotonic() + 30
    while query(nodes.dsn, "SELECT count(*) FROM jobs WHERE kind = 'mail'") != [(0,)]:
        assert time.monotonic() < deadline, "the mail jobs did not all run"
        time.sleep(0.1)
    box = mailbox.Maildir(nodes.data / "mail", create=False)
    written = sorted(parseaddr(message["To"])[1] for message in box)
    assert written == sorted(addresses)
