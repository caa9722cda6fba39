"""``pleromad-ctl``: the operator's tool.

It reads the daemon's configuration and reaches the same database (starting
the embedded server if it is not running), so it works beside a running
daemon.  Every failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.task import react

from pleromad.config import Config, ConfigError, load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgresError
from pleromad.db.pool import DatabaseUnavailable
from pleromad.db.server import DatabaseServer

# Failures an operator can act on; anything else is a bug and keeps its traceback.
_OPERATOR_ERRORS = (DatabaseUnavailable, EmbeddedPostgresError, schema.SchemaError, OSError)



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
    commands.add_parser(
        "migrate", help="apply pending schema migrations and exit"
    ).set_defaults(run=migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, data_dir=args.data_dir, dsn=args.dsn)
    except ConfigError as e:
        fail(f"config error: {e}")
    react(lambda reactor: Deferred.fromCoroutine(_run(reactor, config, args)))
    raise AssertionError("react() exits")


async def _run(reactor: Any, config: Config, args: argparse.Namespace) -> None:
    server = DatabaseServer(config)
    try:
        dsn = await server.start()
        await args.run(reactor, config, dsn, args)
    except _OPERATOR_ERRORS as e:
        fail(" ".join(str(e).split()))
    finally:
        await server.stop()
