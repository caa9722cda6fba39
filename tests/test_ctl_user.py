"""``pleromad-ctl user ...`` against the test's database.

Every command answers 0 with its messages on stdout, or a non-zero status
with one line on stderr and no change in the database.  Most tests run the
command in this process (its ``command`` coroutine, with stdin, stdout and
stderr swapped for strings); a few run the installed program, to check what
only a real process shows: the entry point, the prompt on a real stdin, and
the exit status.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import argon2
import pytest
import pytest_twisted
from twisted.internet import reactor

from pleromad import ctl as ctl_module
from tests.helpers import query

BIN = Path(sys.executable).parent
LINK = re.compile(r"URL: http://localhost:4000/api/pleroma/password_reset/([\w-]+)")


async def in_process(argv: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    """What the program would answer, from its ``command`` run on the
    test's reactor; SystemExit gives the status as it would the process."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with (
        redirect_stdout(out),
        redirect_stderr(err),
        mock.patch.object(sys, "stdin", io.StringIO(stdin)),
    ):
        try:
            await ctl_module.command(reactor, argv)
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())


class Ctl:
    """``pleromad-ctl --dsn DSN user ARGS``: in this process, or as the
    installed program with ``process``."""

    def __init__(self, tmp_path: Path, dsn: str, process: bool = False) -> None:
        self.tmp_path = tmp_path
        self.dsn = dsn
        self.process = process

    async def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        argv = ["--dsn", self.dsn, "user", *args]
        if not self.process:
            return await in_process(argv, stdin)
        return subprocess.run(
            [str(BIN / "pleromad-ctl"), *argv],
            cwd=self.tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    async def ok(self, *args: str, stdin: str = "") -> list[str]:
        result = await self(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout.splitlines()

    async def fails(self, *args: str, stdin: str = "", status: int = 1) -> str:
        """The one line the command wrote on stderr, without the prefix."""
        result = await self(*args, stdin=stdin)
        assert result.returncode == status, (result.stdout, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pleromad-ctl: "), result.stderr
        return lines[0].removeprefix("pleromad-ctl: ")


@pytest.fixture
def ctl(tmp_path: Path, dsn: str, monkeypatch: pytest.MonkeyPatch) -> Ctl:
    """The commands in this process, in the test's folder as the program's."""
    monkeypatch.chdir(tmp_path)
    return Ctl(tmp_path, dsn)


@pytest.fixture
def ctl_process(tmp_path: Path, dsn: str) -> Ctl:
    """The installed program, one process per command."""
    return Ctl(tmp_path, dsn, process=True)


def user(dsn: str, nickname: str) -> dict[str, Any] | None:
    rows = query(
        dsn,
        "SELECT id, nickname, email, name, bio, password_hash, is_admin, is_moderator, locked,"
        " deactivated, deleted, confirmation_pending, local FROM users"
        " WHERE lower(nickname) = lower(%s)",
        (nickname,),
    )
    if not rows:
        return None
    keys = (
        "id",
        "nickname",
        "email",
        "name",
        "bio",
        "password_hash",
        "is_admin",
        "is_moderator",
        "locked",
        "deactivated",
        "deleted",
        "confirmation_pending",
        "local",
    )
    return dict(zip(keys, rows[0], strict=False))


def everything(dsn: str) -> list[Any]:
    """A snapshot of the tables the commands change."""
    return [
        query(dsn, f"SELECT * FROM {table} ORDER BY 1")
        for table in ("users", "oauth_tokens", "password_reset_tokens", "invites", "jobs")
    ]


def sign_in(dsn: str, user_id: int) -> None:
    """Give the account a token, as if it had logged in."""
    query(
        dsn,
        "WITH app AS (INSERT INTO apps (client_name, redirect_uris, scopes, client_id,"
        "  client_secret) VALUES ('t', 'urn:x', '{read}', md5(random()::text), 's')"
        "  RETURNING id)"
        " INSERT INTO oauth_tokens (token_hash, refresh_token_hash, app_id, user_id, scopes)"
        " SELECT md5(random()::text), md5(random()::text), app.id, %s, '{read}' FROM app",
        (user_id,),
    )


def tokens_of(dsn: str, user_id: int) -> int:
    return query(dsn, "SELECT count(*) FROM oauth_tokens WHERE user_id = %s", (user_id,))[0][0]


async def make(ctl: Ctl, nickname: str = "alice", *args: str) -> dict[str, Any]:
    await ctl.ok("new", nickname, f"{nickname}@example.org", "--password", "hunter2", "-y", *args)
    found = user(ctl.dsn, nickname)
    assert found is not None
    return found


# -- new ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_new_with_everything_given(ctl_process: Ctl, dsn: str) -> None:
    """`new` with -y creates a confirmed local account with the given name,
    bio, password and flags, and says so (the installed program)."""
    out = await ctl_process.ok(
        "new",
        "alice",
        "alice@example.org",
        "--name",
        "Alice A.",
        "--bio",
        "hi there",
        "--password",
        "hunter2",
        "--admin",
        "--moderator",
        "--locked",
        "-y",
    )
    assert out[0] == "A user will be created with the following information:"
    assert "- nickname: alice" in out and "- email: alice@example.org" in out
    assert "- password: [given]" in out and "hunter2" not in "\n".join(out)
    assert out[-4:] == [
        "User alice created",
        "Moderator status of alice: true",
        "Locked status of alice: true",
        "Admin status of alice: true",
    ]
    row = user(dsn, "alice")
    assert row is not None
    assert (row["name"], row["bio"], row["email"]) == ("Alice A.", "hi there", "alice@example.org")
    assert (row["is_admin"], row["is_moderator"], row["locked"]) == (True, True, True)
    assert row["confirmation_pending"] is False and row["local"] is True
    assert argon2.PasswordHasher().verify(row["password_hash"], "hunter2")


@pytest_twisted.ensureDeferred
async def test_new_without_password_asks_and_prints_a_reset_link(
    ctl_process: Ctl, dsn: str
) -> None:
    """Without --password and -y, `new` asks on stdin; on "y" the account is
    created with no password (name defaulting to the nickname) and a reset
    link is printed (the installed program, reading its real stdin)."""
    out = await ctl_process.ok("new", "bob", "bob@example.org", stdin="y\n")
    assert "- password: [not set; a reset link will be created]" in out
    assert "- name: bob" in out
    assert "Continue? [y/N] User bob created" in out
    assert out[-2] == "Generated password reset token for bob"
    match = LINK.fullmatch(out[-1])
    assert match, out[-1]
    row = user(dsn, "bob")
    assert row is not None and row["password_hash"] is None and row["name"] == "bob"
    assert row["is_admin"] is False and row["confirmation_pending"] is False
    assert query(
        dsn, "SELECT count(*) FROM password_reset_tokens WHERE user_id = %s", (row["id"],)
    ) == [(1,)]


@pytest.mark.parametrize("answer", ["n\n", "", "maybe\n"])
@pytest_twisted.ensureDeferred
async def test_new_declined_creates_nothing(ctl: Ctl, dsn: str, answer: str) -> None:
    """Any answer but yes (or no answer at all) creates nothing: exit 1,
    "User will not be created."."""
    assert await ctl.fails("new", "carol", "carol@example.org", stdin=answer) == (
        "User will not be created."
    )
    assert user(dsn, "carol") is None


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("bad nick", "x@example.org"), "nickname has invalid format"),
        (("API", "x@example.org"), "nickname is reserved"),
        (("dave", "not-an-email"), "email has invalid format"),
        (("dave", "x@example.org", "--name", " "), "name can't be blank"),
        (("dave", "x@example.org", "--password", ""), "password can't be blank"),
        (("dave", "x@example.org", "--bio", "b" * 5001), "bio should be at most 5000"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_new_refuses_invalid_accounts(
    ctl: Ctl, dsn: str, args: tuple[str, ...], reason: str
) -> None:
    """Invalid nickname, reserved nickname, bad e-mail, blank name, empty
    password: exit 1, one line with the reason, no account."""
    before = everything(dsn)
    line = await ctl.fails("new", *args, "-y")
    assert line.startswith(f"User {args[0]} could not be created: ") and reason in line
    assert everything(dsn) == before


@pytest_twisted.ensureDeferred
async def test_new_refuses_taken_and_deleted_nicknames_and_emails(ctl: Ctl, dsn: str) -> None:
    """A nickname or e-mail already in use (in any letter case), or the
    nickname of a deleted account, cannot be had."""
    await make(ctl, "alice")
    await make(ctl, "gone")
    await ctl.ok("rm", "gone")
    before = everything(dsn)
    for args in (
        ("ALICE", "other@example.org"),
        ("other", "Alice@Example.org"),
        ("Gone", "gone2@example.org"),
    ):
        assert "is already taken" in await ctl.fails("new", *args, "-y")
    assert everything(dsn) == before


# -- rm, toggle_activated, reset_password -----------------------------------------


@pytest_twisted.ensureDeferred
async def test_rm_deletes_signs_out_and_does_the_job_work(ctl: Ctl, dsn: str) -> None:
    """`rm` turns the account into a tombstone, removes its credentials at
    once and leaves the (now idle) deletion job queued for the daemon."""
    alice = await make(ctl)
    sign_in(dsn, alice["id"])
    await ctl.ok("reset_password", "alice")
    assert await ctl.ok("rm", "alice") == ["User alice deleted."]
    row = user(dsn, "alice")
    assert row is not None and row["deleted"] is True
    assert row["email"] is None and row["password_hash"] is None
    assert tokens_of(dsn, alice["id"]) == 0
    assert query(dsn, "SELECT count(*) FROM password_reset_tokens") == [(0,)]
    assert query(dsn, "SELECT kind, payload FROM jobs") == [
        ("delete_account", {"user_id": alice["id"]})
    ]
    assert await ctl.fails("rm", "alice") == "No local user alice"


@pytest_twisted.ensureDeferred
async def test_commands_on_unknown_or_deleted_accounts_fail(ctl: Ctl, dsn: str) -> None:
    """Every command naming an account that does not exist (or was deleted)
    fails with exit 1, "No local user NICK" (toggle_activated: "No user NICK"),
    and changes nothing."""
    await make(ctl, "gone")
    await ctl.ok("rm", "gone")
    before = everything(dsn)
    for nick in ("nobody", "gone"):
        assert await ctl.fails("rm", nick) == f"No local user {nick}"
        assert await ctl.fails("reset_password", nick) == f"No local user {nick}"
        assert await ctl.fails("set", nick, "--admin") == f"No local user {nick}"
        assert await ctl.fails("toggle_activated", nick) == f"No user {nick}"
    assert everything(dsn) == before


@pytest_twisted.ensureDeferred
async def test_toggle_activated_flips_and_deactivation_signs_out(ctl: Ctl, dsn: str) -> None:
    """toggle_activated deactivates an active account, deleting its tokens,
    and activates a deactivated one."""
    alice = await make(ctl)
    sign_in(dsn, alice["id"])
    assert await ctl.ok("toggle_activated", "ALICE") == ["Activation status of alice: deactivated"]
    row = user(dsn, "alice")
    assert row is not None and row["deactivated"] is True
    assert tokens_of(dsn, alice["id"]) == 0
    assert await ctl.ok("toggle_activated", "alice") == ["Activation status of alice: activated"]
    row = user(dsn, "alice")
    assert row is not None and row["deactivated"] is False


@pytest_twisted.ensureDeferred
async def test_reset_password_prints_a_link(ctl: Ctl, dsn: str) -> None:
    """reset_password prints "Generated password reset token for NICK" and
    the link, whose token is stored as a digest valid for a day."""
    await make(ctl)
    first, second = await ctl.ok("reset_password", "alice")
    assert first == "Generated password reset token for alice"
    match = LINK.fullmatch(second)
    assert match, second
    [(token_hash, hours)] = query(
        dsn,
        "SELECT token_hash, round(extract(epoch FROM valid_until - now()) / 3600)"
        " FROM password_reset_tokens",
    )
    assert match[1] not in token_hash and hours == 24


# -- set ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_set_changes_flags_in_order(ctl: Ctl, dsn: str) -> None:
    """set applies and reports moderator, locked, admin (each given as --x or
    --no-x), then --confirmed."""
    await make(ctl, "alice", "--locked")
    query(dsn, "UPDATE users SET confirmation_pending = true, confirmation_token = 't'")
    out = await ctl.ok("set", "alice", "--admin", "--no-locked", "--moderator", "--confirmed")
    assert out == [
        "Moderator status of alice: true",
        "Locked status of alice: false",
        "Admin status of alice: true",
        "alice doesn't need confirmation.",
    ]
    row = user(dsn, "alice")
    assert row is not None
    assert (row["is_admin"], row["is_moderator"], row["locked"]) == (True, True, False)
    assert row["confirmation_pending"] is False
    assert await ctl.ok("set", "alice", "--no-admin") == ["Admin status of alice: false"]
    row = user(dsn, "alice")
    assert row is not None and row["is_admin"] is False and row["is_moderator"] is True


@pytest_twisted.ensureDeferred
async def test_set_without_options_fails(ctl: Ctl, dsn: str) -> None:
    """set with nothing to set is an error, not a silent success."""
    await make(ctl)
    before = everything(dsn)
    assert (await ctl.fails("set", "alice")).startswith("nothing to set")
    assert everything(dsn) == before


# -- invites ------------------------------------------------------------------------


def invites(dsn: str) -> list[tuple[Any, ...]]:
    return query(dsn, "SELECT token, max_use, uses, expires_at, used FROM invites ORDER BY id")


@pytest_twisted.ensureDeferred
async def test_invite_prints_its_token_last(ctl: Ctl, dsn: str) -> None:
    """invite prints its type, the registration URL and, alone on the last
    line, the token; the limits given are stored."""
    out = await ctl.ok("invite")
    assert out[0] == "Generated user invite token one time"
    token = out[-1]
    assert out[1] == f"URL: http://localhost:4000/registration/{token}"
    later = date.today() + timedelta(days=30)
    out = await ctl.ok("invite", "--max-use", "3", "--expires-at", later.isoformat())
    assert out[0] == "Generated user invite token reusable date limited"
    assert invites(dsn) == [(token, None, 0, None, False), (out[-1], 3, 0, later, False)]
    out = await ctl.ok("invite", "--expires-at", datetime.now(UTC).date().isoformat())
    assert out[0] == "Generated user invite token date limited"
    assert (await ctl.ok("invite", "--max-use", "1"))[0] == "Generated user invite token reusable"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--expires-at", "2030-13-01"), "--expires-at must be a date YYYY-MM-DD"),
        (("--expires-at", "tomorrow"), "--expires-at must be a date YYYY-MM-DD"),
        (("--expires-at", "20300101"), "--expires-at must be a date YYYY-MM-DD"),
        (("--expires-at", "2001-01-01"), "2001-01-01 is in the past"),
        (("--max-use", "-1"), "--max-use must be an integer from 1 to 2147483647"),
        (("--max-use", "0"), "--max-use must be an integer from 1 to 2147483647"),
        (("--max-use", "many"), "--max-use must be an integer from 1 to 2147483647"),
        # Beyond the column's integer: once a database error (a traceback).
        (("--max-use", "2147483648"), "--max-use must be an integer from 1 to 2147483647"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_invite_refuses_bad_limits(
    ctl: Ctl, dsn: str, args: tuple[str, ...], reason: str
) -> None:
    """A bad or past date, or a --max-use out of 1..2**31-1:
    exit 1, "Could not create invite token: ...", no invite."""
    line = await ctl.fails("invite", *args)
    assert line.startswith("Could not create invite token: ") and reason in line
    assert invites(dsn) == []


@pytest_twisted.ensureDeferred
async def test_invites_lists_and_revoke_invite_revokes(ctl: Ctl, dsn: str) -> None:
    """invites lists every invite with its type, use and limits;
    revoke_invite marks one used; an unknown token fails."""
    assert await ctl.ok("invites") == ["Invites list:"]
    one_time = (await ctl.ok("invite"))[-1]
    limited = (await ctl.ok("invite", "--max-use", "5", "--expires-at", "2999-12-31"))[-1]
    query(dsn, "UPDATE invites SET uses = 2 WHERE token = %s", (limited,))
    [first_id, second_id] = [row[0] for row in query(dsn, "SELECT id FROM invites ORDER BY id")]
    assert await ctl.ok("invites") == [
        "Invites list:",
        f"ID: {first_id} | Token: {one_time} | Token type: one_time | Used: false",
        f"ID: {second_id} | Token: {limited} | Token type: reusable_date_limited | Used: false"
        " | Expires at: 2999-12-31 | Max use: 5    Left use: 3",
    ]
    assert await ctl.ok("revoke_invite", one_time) == [f"Invite for token {one_time} was revoked."]
    assert [row[4] for row in invites(dsn)] == [True, False]
    before = everything(dsn)
    assert await ctl.fails("revoke_invite", "nope") == "No invite found with token nope"
    assert everything(dsn) == before


@pytest_twisted.ensureDeferred
async def test_usage_errors_are_one_line_with_status_2(ctl: Ctl, ctl_process: Ctl) -> None:
    """A missing subcommand or argument, or an unknown option, is a usage
    error: exit 2, one line (the installed program's status too)."""
    for args in ((), ("new", "alice"), ("set", "alice", "--sudo"), ("frobnicate",)):
        await ctl.fails(*args, status=2)
    await ctl_process.fails("set", "alice", "--sudo", status=2)
