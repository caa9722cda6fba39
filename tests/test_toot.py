"""toot 0.52.1, unmodified, drives the daemon through its command line.

Each command runs as a child process of the reactor (which keeps serving
meanwhile), with a home and a config directory of its own: toot keeps its
apps and tokens in ``$XDG_CONFIG_HOME/toot/config.json``.  toot takes an
instance given with a scheme as it is (only a bare domain becomes
``https://``), so ``login_cli`` talks plain HTTP to the loopback port; the
password is given as an option, which toot allows for scripting.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import requests
from twisted.internet import protocol, reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure

from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.helpers import query
from tests.test_clients import browser_login, make_user, png

TOOT = str(Path(sys.executable).parent / "toot")
PASSWORD = "correct horse"

# The libraries' answers are checked against the OpenAPI document as ours are.
pytestmark = pytest.mark.usefixtures("checked_requests")


class Toot:
    """One person's toot: its own home and config, nothing from ours."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "LANG": "C.UTF-8",
        }

    async def run(self, *args: str) -> str:
        """toot's output of a command that must succeed."""
        out, err, code = await getProcessOutputAndValue(TOOT, args, env=self.env)
        assert code == 0, (args, code, out, err)
        return out.decode("utf-8")

    async def json(self, *args: str) -> Any:
        return json.loads(await self.run(*args, "--json"))


class Conversation(protocol.ProcessProtocol):
    """A toot command that asks questions: its output so far, the first URL
    it shows, and its exit code."""

    def __init__(self) -> None:
        self.output = b""
        self.url: Deferred[str] = Deferred()
        self.ended: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        found = re.search(rb"https?://\S+", self.output)
        if found and not self.url.called:
            self.url.callback(found.group().decode("utf-8"))

    def processEnded(self, reason: Failure) -> None:
        if not self.url.called:
            self.url.errback(AssertionError(f"no URL shown: {self.output!r}"))
        self.ended.callback(reason.value.exitCode)


async def logged_in(rt: Runtime, client: Client, home: Path, nickname: str) -> Toot:
    await make_user(rt, nickname, PASSWORD)
    toot = Toot(home / nickname)
    out = await toot.run(
        "login_cli", "--instance", client.base, "--email", nickname, "--password", PASSWORD
    )
    assert "Successfully logged in" in out
    return toot


@pytest_twisted.ensureDeferred
async def test_toot_login_cli_saves_a_working_token(
    rt: Runtime, client: Client, tmp_path: Path
) -> None:
    """login_cli registers toot's app, exchanges the password (nickname or
    e-mail) for a token and saves both; whoami then reads the account."""
    await make_user(rt, "alice", PASSWORD)
    toot = Toot(tmp_path / "alice")
    out = await toot.run(
        "login_cli",
        "--instance",
        client.base,
        "--email",
        "alice@example.org",
        "--password",
        PASSWORD,
    )
    assert "Successfully logged in" in out
    saved = json.loads((tmp_path / "alice/config/toot/config.json").read_text())
    # toot names the instance after the host of the uri /api/v1/instance gives.
    assert saved["active_user"] == "alice@localhost:4000"
    [app] = saved["apps"].values()
    assert app["base_url"] == client.base
    assert query(rt.db.dsn, "SELECT client_name FROM apps") == [("toot - a Mastodon CLI client",)]
    me = await toot.json("whoami")
    assert (me["username"], me["acct"], me["display_name"]) == ("alice", "alice", "Alice")


@pytest_twisted.ensureDeferred
async def test_toot_posts_follows_and_reads(rt: Runtime, client: Client, tmp_path: Path) -> None:
    """bob follows alice by name; alice posts (with a content warning, a
    mention of bob, a picture); bob's timeline shows her posts, his
    notifications her mention; alice's show bob's follow."""
    alice = await logged_in(rt, client, tmp_path, "alice")
    bob = await logged_in(rt, client, tmp_path, "bob")

    relationship = await bob.json("follow", "alice")
    assert relationship["following"] is True
    assert query(
        rt.db.dsn,
        "SELECT f.state FROM follows f JOIN users a ON a.id = f.follower_id"
        " JOIN users b ON b.id = f.followee_id WHERE a.nickname = 'bob' AND b.nickname = 'alice'",
    ) == [("accepted",)]
    assert (await alice.run("followers", "alice")).strip() == "* @bob Bob"

    mention = await alice.json(
        "post", "hello @bob", "--visibility", "unlisted", "--spoiler-text", "greeting"
    )
    assert (mention["visibility"], mention["spoiler_text"]) == ("unlisted", "greeting")
    assert [m["acct"] for m in mention["mentions"]] == ["bob"]
    assert query(
        rt.db.dsn, "SELECT source, visibility FROM statuses WHERE id = %s", (int(mention["id"]),)
    ) == [("hello @bob", "unlisted")]

    picture = tmp_path / "dot.png"
    picture.write_bytes(png())
    with_media = await alice.json(
        "post", "a red dot", "--media", str(picture), "--description", "red"
    )
    [attachment] = with_media["media_attachments"]
    assert (attachment["type"], attachment["description"]) == ("image", "red")

    reply = await bob.json("post", "hi alice", "--reply-to", mention["id"])
    assert reply["in_reply_to_id"] == mention["id"]

    timeline = await bob.run("timeline", "--once")
    assert timeline.index("a red dot") < timeline.index("hello @bob")
    assert f"ID {with_media['id']}" in timeline and "Visibility: unlisted" in timeline
    public = await bob.run("timeline", "--public", "--once")
    assert "a red dot" in public and "hello @bob" not in public  # unlisted

    notified = await bob.run("notifications")
    assert "Alice @alice mentioned you" in notified and "hello @bob" in notified
    [only] = await bob.json("notifications", "--type", "mention")
    assert (only["type"], only["status"]["id"]) == ("mention", mention["id"])
    types = [n["type"] for n in await alice.json("notifications")]
    assert types == ["mention", "follow"]
    assert "Bob @bob now follows you" in await alice.run("notifications")

    assert "Notifications cleared" in await alice.run("notifications", "--clear")
    assert "You have no notifications" in await alice.run("notifications")


@pytest_twisted.ensureDeferred
async def test_toot_follows_a_locked_account_through_its_request(
    rt: Runtime, client: Client, tmp_path: Path
) -> None:
    """Following a locked account is a request until its owner accepts it
    with follow-requests; then the follower sees its followers-only posts."""
    alice = await logged_in(rt, client, tmp_path, "alice")
    bob = await logged_in(rt, client, tmp_path, "bob")
    assert "Account updated" in await alice.run("update-account", "--locked")
    private = await alice.json("post", "for followers", "--visibility", "private")

    relationship = await bob.json("follow", "alice")
    assert (relationship["following"], relationship["requested"]) == (False, True)
    assert (await alice.run("follow-requests", "list")).strip() == "* @bob Bob"
    assert "for followers" not in await bob.run("timeline", "--once")

    assert "bob is now following you" in await alice.run("follow-requests", "accept", "bob")
    assert (await alice.run("follow-requests", "list")).strip() == ""
    timeline = await bob.run("timeline", "--once")
    assert "for followers" in timeline and f"ID {private['id']}" in timeline


@pytest_twisted.ensureDeferred
async def test_toot_login_through_the_browser_form(
    rt: Runtime, client: Client, tmp_path: Path
) -> None:
    """toot's recommended login: it shows an authorize URL (with a trailing
    slash after /oauth/authorize), a person logs in there and pastes the
    out-of-band code back into toot, which saves a working token."""
    await make_user(rt, "alice", PASSWORD)
    toot = Toot(tmp_path / "alice")
    talk = Conversation()
    process = reactor.spawnProcess(
        talk, TOOT, [TOOT, "login", "--instance", client.base], env=toot.env
    )
    process.write(b"n\n")  # no browser here: "Open link in default browser?"
    url = await talk.url

    def authorize() -> str:
        answer = browser_login(requests.Session(), url, "alice", PASSWORD)
        assert answer.status_code == 200, answer.text
        code = re.search(r"<code>([^<]+)</code>", answer.text)
        assert code is not None, answer.text
        return code.group(1)

    process.write((await deferToThread(authorize)).encode("ascii") + b"\n")
    assert await talk.ended == 0, talk.output
    assert "Successfully logged in" in talk.output.decode("utf-8")
    assert (await toot.json("whoami"))["username"] == "alice"
