"""``pleromad-ctl``: the operator's tool.

It reads the daemon's configuration and reaches the same database (starting
the embedded server if it is not running), so it works beside a running
daemon.  Every failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.task import react
from twisted.internet.threads import deferToThread

from pleromad import backup
from pleromad.config import Config, ConfigError, load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgresError, NoCluster
from pleromad.db.pool import Database, DatabaseUnavailable
from pleromad.db.server import DatabaseServer
from pleromad.domain import admin, lifecycle, password_reset
from pleromad.model import User
from pleromad.runtime import Runtime, build_runtime
from pleromad.store import invites, settings, users


class CommandFailed(Exception):
    """What a command could not do, in one line for the operator."""


# Failures an operator can act on; anything else is a bug and keeps its traceback.
_OPERATOR_ERRORS = (
    CommandFailed,
    backup.BackupError,
    DatabaseUnavailable,
    EmbeddedPostgresError,
    schema.SchemaError,
    OSError,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message, status=2)


def fail(message: str, status: int = 1) -> NoReturn:
    sys.stderr.write(f"pleromad-ctl: {message}\n")
    sys.stderr.flush()
    raise SystemExit(status)


async def migrate(reactor: Any, config: Config, dsn: str, args: argparse.Namespace) -> None:
    applied = await schema.migrate(reactor, dsn)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    newest = max((m.version for m in schema.known_migrations()), default=0)
    print(f"schema up to date at migration {newest}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pleromad-ctl", description="Operate a pleromad instance.")
    parser.add_argument("--config", "-c", help="configuration file (TOML)")
    parser.add_argument("--data-dir", help="overrides [server] data_dir")
    parser.add_argument("--dsn", help="overrides [database] dsn")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    migrate_command = commands.add_parser(
        "migrate", help="apply pending schema migrations and exit"
    )
    migrate_command.add_argument(
        "--init",
        action="store_true",
        help="create the embedded database cluster if there is none (other commands never do)",
    )
    migrate_command.set_defaults(run=migrate)
    _add_backup_commands(commands)
    _add_user_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    react(lambda reactor: Deferred.fromCoroutine(command(reactor, argv)))
    raise AssertionError("react() exits")


async def command(reactor: Any, argv: Sequence[str] | None = None) -> None:
    """Run one command on a running reactor; a failure raises SystemExit
    with its status, after its line on stderr.  The tests call this in their
    own process, where starting an interpreter per command would cost more
    than the commands do."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, data_dir=args.data_dir, dsn=args.dsn)
    except ConfigError as e:
        fail(f"config error: {e}")
    await _run(reactor, config, args)


async def _run(reactor: Any, config: Config, args: argparse.Namespace) -> None:
    server = DatabaseServer(config)
    create = getattr(args, "init", False) or getattr(args, "creates_cluster", False)
    args.server = server  # for commands that need PostgreSQL's own programs
    try:
        before_start = getattr(args, "before_start", None)
        if before_start is not None:
            await before_start(server, config, args)
        try:
            dsn = await server.start(create=create)
        except NoCluster as e:
            raise CommandFailed(
                f"{e}: start the daemon once (twistd -n pleromad), or run"
                " pleromad-ctl migrate --init to create it"
            ) from None
        await args.run(reactor, config, dsn, args)
    except _OPERATOR_ERRORS as e:
        fail(" ".join(str(e).split()))
    finally:
        await server.stop()


# -- pleromad-ctl backup / restore ----------------------------------------------


def _uploads(config: Config) -> Path | None:
    """The folder of the local uploads; None when media live elsewhere (S3)."""
    return config.server.data_dir / "uploads" if config.media.backend == "local" else None


async def backup_command(reactor: Any, config: Config, dsn: str, args: argparse.Namespace) -> None:
    server: DatabaseServer = args.server
    summary = await deferToThread(
        backup.backup, Path(args.file), dsn, _uploads(config), server.program
    )
    print(
        f"backed up the database (schema {summary.schema_version}) and"
        f" {summary.files} uploaded files to {args.file}"
    )


async def _restore_target(server: DatabaseServer, config: Config, args: argparse.Namespace) -> None:
    """Before the server starts (which would create a cluster): the archive
    must be restorable and the data folder empty."""
    await deferToThread(backup.check_restorable, Path(args.file))
    cluster = config.server.data_dir / "postgres" / "data" if server.embedded else None
    await deferToThread(
        backup.refuse_unless_empty_folder, config.server.data_dir / "uploads", cluster
    )


async def restore_command(reactor: Any, config: Config, dsn: str, args: argparse.Namespace) -> None:
    server: DatabaseServer = args.server
    summary = await deferToThread(
        backup.restore, Path(args.file), dsn, config.server.data_dir / "uploads", server.program
    )
    print(
        f"restored the database (schema {summary.schema_version}) and"
        f" {summary.files} uploaded files from {args.file}"
    )


def _add_backup_commands(commands: Any) -> None:
    made = commands.add_parser(
        "backup", help="write the database and the local uploads to one archive (while running)"
    )
    made.add_argument("file", metavar="FILE", help="the archive to write (.tar.gz)")
    made.set_defaults(run=backup_command)
    restored = commands.add_parser(
        "restore", help="bring an archive back into an empty data folder or database"
    )
    restored.add_argument("file", metavar="FILE", help="an archive pleromad-ctl backup wrote")
    restored.set_defaults(run=restore_command, before_start=_restore_target, creates_cluster=True)


# -- pleromad-ctl user ... ------------------------------------------------------
#
# Messages follow Pleroma's `mix pleroma.user` (mastodon-subset §4.4).  The
# commands run against the database through the same domain functions as the
# daemon; the schema is brought up to date first, as the daemon does at start.

UserCommand = Callable[[Runtime, argparse.Namespace], Awaitable[None]]


def _add_user_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="manage accounts and invites")
    sub = user.add_subparsers(dest="user_command", metavar="USER_COMMAND", required=True)

    new = sub.add_parser("new", help="create a confirmed local account")
    new.add_argument("nickname", metavar="NICKNAME")
    new.add_argument("email", metavar="EMAIL")
    new.add_argument("--name", help="display name (default: the nickname)")
    new.add_argument("--bio", default="", help="profile text")
    new.add_argument("--password", help="without it, a password reset link is printed")
    new.add_argument("--admin", action="store_true")
    new.add_argument("--moderator", action="store_true")
    new.add_argument("--locked", action="store_true")
    new.add_argument(
        "-y", "--assume-yes", dest="yes", action="store_true", help="do not ask for confirmation"
    )
    _runs(new, user_new)

    _runs(
        _with_nickname(
            sub.add_parser("rm", help="delete a local account (its nickname stays taken)")
        ),
        user_rm,
    )
    _runs(
        _with_nickname(
            sub.add_parser(
                "toggle_activated", help="deactivate (signing out) or reactivate an account"
            )
        ),
        user_toggle_activated,
    )
    _runs(
        _with_nickname(sub.add_parser("reset_password", help="print a password reset link")),
        user_reset_password,
    )

    set_ = _with_nickname(sub.add_parser("set", help="change roles and switches"))
    for flag in ("admin", "moderator", "locked"):
        set_.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None)
    set_.add_argument("--confirmed", action="store_true", help="mark the e-mail confirmed")
    _runs(set_, user_set)

    invite = sub.add_parser("invite", help="create an invite; its token is the last line")
    invite.add_argument("--max-use", metavar="N", help="how many registrations it allows")
    invite.add_argument("--expires-at", metavar="YYYY-MM-DD", help="last day it is valid (UTC)")
    _runs(invite, user_invite)

    _runs(sub.add_parser("invites", help="list invites"), user_invites)
    revoke = sub.add_parser("revoke_invite", help="make an invite unusable")
    revoke.add_argument("token", metavar="TOKEN")
    _runs(revoke, user_revoke_invite)


def _with_nickname(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("nickname", metavar="NICKNAME")
    return parser


def _runs(parser: argparse.ArgumentParser, command: UserCommand) -> None:
    async def run(reactor: Any, config: Config, dsn: str, args: argparse.Namespace) -> None:
        await schema.migrate(reactor, dsn)
        db = Database(reactor, dsn, 2)
        await db.open()
        try:
            secret = await db.run_interaction(
                "cookie_secret", settings.get_or_create_secret_txn, settings.COOKIE_SECRET
            )
            await command(build_runtime(config, db, reactor, bytes.fromhex(secret)), args)
        finally:
            await db.close()

    parser.set_defaults(run=run)


async def _user(rt: Runtime, nickname: str, *, local: bool = True) -> User:
    """The account the operator names; deleted accounts are no one."""
    user = await rt.db.run_interaction("find user", users.get_user_by_nickname_txn, nickname)
    if user is None or user.deleted or (local and not user.local):
        raise CommandFailed(f"No local user {nickname}" if local else f"No user {nickname}")
    return user


def _yes_no(value: bool) -> str:
    return "true" if value else "false"


async def _confirmed(question: str) -> bool:
    """Ask on the terminal; anything but yes (or end of input) is no."""
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = await deferToThread(sys.stdin.readline)
    return answer.strip().lower() in ("y", "yes")


async def user_new(rt: Runtime, args: argparse.Namespace) -> None:
    account = lifecycle.NewAccount(
        nickname=args.nickname,
        email=args.email,
        name=args.name,
        bio=args.bio,
        password=args.password,
        is_admin=args.admin,
        is_moderator=args.moderator,
        locked=args.locked,
    )
    problem = lifecycle.account_problem(rt.config, account)
    if problem is not None:
        raise CommandFailed(f"User {args.nickname} could not be created: {problem}")
    print("A user will be created with the following information:")
    print(f"- nickname: {account.nickname}")
    print(f"- email: {account.email}")
    print(
        "- password: "
        + ("[given]" if account.password is not None else "[not set; a reset link will be created]")
    )
    print(f"- name: {account.name if account.name is not None else account.nickname}")
    print(f"- bio: {account.bio}")
    print(f"- moderator: {_yes_no(account.is_moderator)}")
    print(f"- admin: {_yes_no(account.is_admin)}")
    print(f"- locked: {_yes_no(account.locked)}")
    if not args.yes and not await _confirmed("Continue?"):
        raise CommandFailed("User will not be created.")
    try:
        user = await lifecycle.create_account(rt, account)
    except lifecycle.AccountRefused as refused:
        raise CommandFailed(f"User {args.nickname} could not be created: {refused}") from None
    print(f"User {user.nickname} created")
    if user.is_moderator:
        print(f"Moderator status of {user.nickname}: true")
    if user.locked:
        print(f"Locked status of {user.nickname}: true")
    if user.is_admin:
        print(f"Admin status of {user.nickname}: true")
    if account.password is None:
        await _print_reset_link(rt, user)


async def user_rm(rt: Runtime, args: argparse.Namespace) -> None:
    user = await _user(rt, args.nickname)
    await lifecycle.delete_account(rt, user.id)
    # The daemon may not be running: do the queued job's work now.  The job
    # stays queued and finds nothing left to do when a runner gets to it.
    await lifecycle.remove_content(rt, user.id)
    print(f"User {user.nickname} deleted.")


async def user_toggle_activated(rt: Runtime, args: argparse.Namespace) -> None:
    user = await _user(rt, args.nickname, local=False)
    changed = await lifecycle.set_activated(rt, user.id, user.deactivated)
    if changed is None:  # deleted meanwhile
        raise CommandFailed(f"No user {args.nickname}")
    state = "deactivated" if changed.deactivated else "activated"
    print(f"Activation status of {changed.nickname}: {state}")


async def user_reset_password(rt: Runtime, args: argparse.Namespace) -> None:
    await _print_reset_link(rt, await _user(rt, args.nickname))


async def _print_reset_link(rt: Runtime, user: User) -> None:
    url = await password_reset.create_reset_link(rt, user)
    print(f"Generated password reset token for {user.nickname}")
    print(f"URL: {url}")


async def user_set(rt: Runtime, args: argparse.Namespace) -> None:
    flags = {
        name: value
        for name, value in (
            ("is_moderator", args.moderator),
            ("locked", args.locked),
            ("is_admin", args.admin),
        )
        if value is not None
    }
    if args.confirmed:
        flags["confirmed"] = True
    if not flags:
        raise CommandFailed(
            "nothing to set: give --[no-]admin, --[no-]moderator, --[no-]locked or --confirmed"
        )
    user = await _user(rt, args.nickname)
    changed = await lifecycle.update_flags(rt, user.id, **flags)
    if changed is None:  # deleted meanwhile
        raise CommandFailed(f"No local user {args.nickname}")
    nick = changed.nickname
    if args.moderator is not None:
        print(f"Moderator status of {nick}: {_yes_no(changed.is_moderator)}")
    if args.locked is not None:
        print(f"Locked status of {nick}: {_yes_no(changed.locked)}")
    if args.admin is not None:
        print(f"Admin status of {nick}: {_yes_no(changed.is_admin)}")
    if args.confirmed:
        print(f"{nick} doesn't need confirmation.")


async def user_invite(rt: Runtime, args: argparse.Namespace) -> None:
    max_use = _max_use(args.max_use)
    expires_at = _expiry(args.expires_at, admin.today(rt))
    invite = await rt.db.run_interaction(
        "create invite", invites.create_invite_txn, max_use=max_use, expires_at=expires_at
    )
    print(f"Generated user invite token {invite.invite_type.replace('_', ' ')}")
    print(f"URL: {rt.config.server.base_url}/registration/{invite.token}")
    print(invite.token)


def _max_use(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not invites.valid_max_use(int(text)):
        raise CommandFailed(
            "Could not create invite token: --max-use must be an integer from 1 to"
            f" {invites.MAX_USE_LIMIT}, got {text!r}"
        )
    return int(text)


def _expiry(text: str | None, today: date) -> date | None:
    if text is None:
        return None
    try:
        return invites.parse_expiry(text, today)
    except invites.BadExpiry as bad:
        if bad.past:
            raise CommandFailed(f"Could not create invite token: {text} is in the past") from None
        raise CommandFailed(
            f"Could not create invite token: --expires-at must be a date YYYY-MM-DD, got {text!r}"
        ) from None


async def user_invites(rt: Runtime, args: argparse.Namespace) -> None:
    found = await rt.db.run_interaction("list invites", invites.list_invites_txn)
    print("Invites list:")
    for invite in found:
        line = (
            f"ID: {invite.id} | Token: {invite.token} | Token type: {invite.invite_type}"
            f" | Used: {_yes_no(invite.used)}"
        )
        if invite.expires_at is not None:
            line += f" | Expires at: {invite.expires_at.isoformat()}"
        if invite.max_use is not None:
            line += f" | Max use: {invite.max_use}    Left use: {invite.max_use - invite.uses}"
        print(line)


async def user_revoke_invite(rt: Runtime, args: argparse.Namespace) -> None:
    invite = await rt.db.run_interaction("revoke invite", invites.revoke_invite_txn, args.token)
    if invite is None:
        raise CommandFailed(f"No invite found with token {args.token}")
    print(f"Invite for token {args.token} was revoked.")
