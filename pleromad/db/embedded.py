"""The embedded PostgreSQL server pleromad runs when ``[database] dsn`` is empty.

An operator who has not set up a database still gets a working server: the
cluster lives under ``<data_dir>/postgres`` and is created on first start.

Layout under that folder (``root``)::

    data/              PGDATA
    run/               the Unix socket directory (0700; see below)
    log/postgres.log   the server's own log (``pg_ctl -l``)
    .lock              serialises starts of several processes on one root

The server listens on no TCP address, only on a Unix socket in a private
directory, which is what lets the cluster use ``trust`` authentication
safely.  Whoever starts it first (the daemon, or ``pleromad-ctl migrate``)
owns it; others reuse it and leave it running when they stop.

Every subprocess runs in a thread so the reactor never waits on one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from twisted.internet.defer import DeferredLock
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

log = Logger()

DATABASE = "pleromad"
SUPERUSER = "pleromad"
PORT = 5432
START_TIMEOUT = 60.0  # seconds pg_ctl waits for the server to accept connections
_LOCK_TIMEOUT = START_TIMEOUT + 60.0
_INITDB_TIMEOUT = 300.0
_PROBE_TIMEOUT = 30.0
# Linux allows 107 bytes in sun_path, macOS 103; stay clear of both.
_MAX_SOCKET_PATH = 100
_LOG_TAIL_LINES = 30
# Settings the DSN depends on; callers may not override them.
_RESERVED_SETTINGS = frozenset({"listen_addresses", "unix_socket_directories", "port"})
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class EmbeddedPostgresError(Exception):
    """The embedded server could not be prepared, started or stopped.

    ``str()`` is one line an operator can act on; ``detail`` holds what
    explains it further (a subprocess's output, the tail of the server log).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        reason = " ".join(reason.split())
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class NoCluster(EmbeddedPostgresError):
    """There is no cluster yet, and the caller may not create one."""


@dataclass(frozen=True)
class _Account:
    """The system account PostgreSQL runs as when pleromad itself is root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


@dataclass(frozen=True)
class _Binaries:
    """A folder holding ``pg_ctl``, ``initdb`` and ``postgres`` of one major version."""

    bindir: Path
    version: str  # major version as PG_VERSION spells it: "16", "9.6"

    def __getitem__(self, program: str) -> str:
        return str(self.bindir / program)


class EmbeddedPostgres:
    """A PostgreSQL cluster kept under ``root``, started on demand.

    ``settings`` are extra server options (``-c name=value``), e.g. tests pass
    ``fsync=off``; they apply only when this object is the one that starts
    the server.
    """

    def __init__(self, root: Path, *, settings: Mapping[str, str] = {}) -> None:
        for name in settings:
            if not _SETTING_NAME.match(name):
                raise ValueError(f"not a PostgreSQL setting name: {name!r}")
            if name in _RESERVED_SETTINGS:
                raise ValueError(f"{name} is managed by EmbeddedPostgres and cannot be set")
        self._root = Path(os.path.abspath(root))
        self._settings = dict(settings)
        self._data = self._root / "data"
        self._logfile = self._root / "log" / "postgres.log"
        self._host = str(_socket_dir(self._root, PORT))
        self._port = PORT
        self._started_here = False
        self._binaries: _Binaries | None = None
        self._account: _Account | None = None
        self._lock = DeferredLock()
        # Held (shared-locked) from start() to stop(): see stop().
        self._user_fd: int | None = None

    @property
    def started_here(self) -> bool:
        """Whether this object started the server (and so ``stop()`` stops it)."""
        return self._started_here

    def program(self, name: str) -> str:
        """The path of PostgreSQL's program ``name`` (``pg_dump``...) of the
        server's own version once started, else of the preferred installation."""
        if self._binaries is not None:
            return self._binaries[name]
        return client_program(name)

    def dsn(self, dbname: str = DATABASE) -> str:
        """The key=value libpq DSN of database ``dbname`` on this server."""
        parts = {"host": self._host, "port": str(self._port), "user": SUPERUSER, "dbname": dbname}
        return " ".join(f"{key}={_dsn_quote(value)}" for key, value in parts.items())

    async def start(self, *, create: bool = True) -> str:
        """Make sure the server runs and database ``pleromad`` exists; return its DSN.

        Creates the cluster on first use (unless ``create`` is false: then a
        missing cluster is an error) and starts the server unless one already
        runs on this data directory, in which case it is reused (and
        ``started_here`` stays false).  Either way this object becomes one of
        the server's users until :meth:`stop`.  Safe to call again.
        """
        async with self._lock:
            try:
                lock_fd = await self._prepare()
                try:
                    dsn = await self._start_locked(create)
                    if self._user_fd is None:
                        self._user_fd = _register_user(self._root / ".users")
                    return dsn
                finally:
                    os.close(lock_fd)
            except OSError as e:  # the helpers convert what they expect; this is the backstop
                where = f" {e.filename}" if e.filename else ""
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL:{where}: {e.strerror or e}"
                ) from None

    async def stop(self) -> None:
        """Stop being a user of the server, and stop the server ("fast" mode)
        if no other live process uses it.

        Every user holds a shared lock while it uses the server, and the
        kernel drops a process's locks when it dies: so the last live user
        stops the server, whoever started it, and a server left behind by a
        killed daemon is stopped at the next user's clean stop.  An object
        that never started does nothing.
        """
        async with self._lock:
            if self._user_fd is None or self._binaries is None:
                return
            lock_fd = await deferToThread(_acquire_lock, self._root / ".lock", _LOCK_TIMEOUT)
            try:
                if _last_user(self._user_fd):
                    await deferToThread(
                        _pg_ctl_stop, self._binaries, self._data, self._account, self._root
                    )
                    log.info(
                        "Stopped the embedded PostgreSQL server in {data}", data=str(self._data)
                    )
                else:
                    log.info("Left the embedded PostgreSQL server running for its other users")
            finally:
                os.close(self._user_fd)
                self._user_fd = None
                os.close(lock_fd)
            self._started_here = False

    async def _prepare(self) -> int:
        """Create the layout, fix ownership and permissions; return the held lock's fd."""
        account = await deferToThread(_choose_account, self._data)
        changes = await deferToThread(_prepare_layout, self._root, account)
        for change in changes:
            log.info("{change}", change=change)
        self._account = account
        return await deferToThread(_acquire_lock, self._root / ".lock", _LOCK_TIMEOUT)

    async def _start_locked(self, create: bool) -> str:
        account = self._account
        exists = await deferToThread((self._data / "PG_VERSION").exists)
        if not exists and not create:
            raise NoCluster(f"no database cluster in {self._data}")
        binaries = await deferToThread(_pick_binaries, self._data, account, self._root)
        self._binaries = binaries

        if not exists:
            log.info(
                "Creating a PostgreSQL {version} cluster in {data} with {bindir}",
                version=binaries.version,
                data=str(self._data),
                bindir=str(binaries.bindir),
            )
            await deferToThread(_initdb, binaries, self._data, account, self._root)

        if await deferToThread(_is_running, binaries, self._data, account, self._root):
            where = await deferToThread(_postmaster_address, self._data)
            if where is not None:
                self._host, self._port = where
            if not self._started_here:
                log.info(
                    "Reusing the PostgreSQL server already running on {data}",
                    data=str(self._data),
                )
            await deferToThread(
                _wait_until_accepting, self.dsn("postgres"), START_TIMEOUT, self._logfile
            )
        else:
            self._host, self._port = str(_socket_dir(self._root, PORT)), PORT
            options = self._server_options()
            try:
                await deferToThread(
                    _pg_ctl_start, binaries, self._data, self._logfile, options, account, self._root
                )
            except EmbeddedPostgresError as e:
                log.error(
                    "PostgreSQL did not start: {reason}\n{detail}", reason=e.reason, detail=e.detail
                )
                raise
            self._started_here = True
            log.info(
                "Started PostgreSQL {version} on {host} (log: {logfile})",
                version=binaries.version,
                host=self._host,
                logfile=str(self._logfile),
            )

        await deferToThread(_ensure_database, self.dsn("postgres"), DATABASE)
        return self.dsn()

    def _server_options(self) -> list[str]:
        # The socket directory is private (0700, owned by the server's
        # account); that, not a password, is what keeps other local users
        # out of a cluster initialised with trust authentication.  No TCP.
        fixed = {
            "listen_addresses": "",
            "unix_socket_directories": '"' + self._host.replace('"', '""') + '"',
            "port": str(self._port),
        }
        options: list[str] = []
        for name, value in {**self._settings, **fixed}.items():
            options += ["-c", f"{name}={value}"]
        return options


def _dsn_quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _socket_dir(root: Path, port: int) -> Path:
    """``<root>/run``, or a short private folder in the temp dir when that path is too long.

    The short folder is named after a hash of ``root`` so every process
    using the same root finds the same socket.  PostgreSQL touches its
    socket files hourly, which keeps temp cleaners away from them.
    """
    run = root / "run"
    if len(os.fsencode(str(run / f".s.PGSQL.{port}"))) <= _MAX_SOCKET_PATH:
        return run
    digest = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"pleromad-pg-{digest}"


def _choose_account(data: Path) -> _Account | None:
    """The account to run PostgreSQL as: ``None`` means ourselves.

    PostgreSQL refuses to run as root.  As root we run it as the owner of an
    existing cluster (so that a root ``pleromad-ctl`` works on a daemon's
    data dir owned by its system user), else as ``postgres``, else ``nobody``.
    """
    if os.geteuid() != 0:
        return None
    try:
        owner = data.stat().st_uid
    except OSError:  # missing, or worse: _prepare_layout will say what is wrong
        owner = 0
    if owner != 0 and (data / "PG_VERSION").exists():
        try:
            entry = pwd.getpwuid(owner)
        except KeyError:
            gid = data.stat().st_gid
            return _Account(str(owner), owner, gid, (gid,))
        return _account_of(entry)
    for name in ("postgres", "nobody"):
        try:
            return _account_of(pwd.getpwnam(name))
        except KeyError:
            continue
    raise EmbeddedPostgresError(
        "PostgreSQL cannot run as root and there is no 'postgres' or 'nobody' account to run it as"
    )


def _account_of(entry: pwd.struct_passwd) -> _Account:
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


def _prepare_layout(root: Path, account: _Account | None) -> list[str]:
    """Create the folders with their owner and modes; return what changed in others' folders."""
    changes: list[str] = []
    run = root / "run"
    socket_dir = _socket_dir(root, PORT)
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (root / "data", run, root / "log"):
            folder.mkdir(mode=0o700, exist_ok=True)
        run.chmod(0o700)
        (root / ".lock").touch(mode=0o600, exist_ok=True)
        if account is not None:
            # Everything the server's account may need, so that the same
            # root keeps working if the daemon later runs as that account.
            log_dir = root / "log"
            owned = (root, root / "data", run, log_dir, log_dir / "postgres.log", root / ".lock")
            for path in owned:
                _chown(path, account)
            changes += _grant_traverse(root, account)
    except OSError as e:
        raise EmbeddedPostgresError(
            f"cannot prepare the PostgreSQL folder {e.filename or root}: {e.strerror}"
        ) from None
    if socket_dir != run:
        _prepare_private_dir(socket_dir, account)
        if account is not None:
            changes += _grant_traverse(socket_dir, account)
    return changes


def _chown(path: Path, account: _Account) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if (st.st_uid, st.st_gid) != (account.uid, account.gid):
        os.lchown(path, account.uid, account.gid)


def _grant_traverse(root: Path, account: _Account) -> list[str]:
    """Let ``account`` reach ``root``: add o+x (never o+r) to ancestors it cannot enter."""
    changes = []
    for folder in reversed(root.resolve().parents):
        st = folder.stat()
        if st.st_uid == account.uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in account.groups:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            changes.append(
                f"Added o+x to {folder} so that PostgreSQL, running as {account.name}, "
                f"can reach {root}"
            )
    return changes


def _prepare_private_dir(path: Path, account: _Account | None) -> None:
    """Create a 0700 socket folder in the shared temp dir, refusing one someone else made.

    A folder planted there by another user could hand our clients their
    socket, so anything not owned by the server's account (or by root,
    which we then hand over) stops the start.
    """
    uid = account.uid if account is not None else os.geteuid()
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
        if not stat.S_ISDIR(st.st_mode):
            raise EmbeddedPostgresError(f"socket folder {path} is not a directory; remove it")
        if st.st_uid != uid:
            if st.st_uid != 0 or os.geteuid() != 0:
                raise EmbeddedPostgresError(
                    f"socket folder {path} belongs to uid {st.st_uid}, not {uid}; remove it"
                )
            assert account is not None
            os.lchown(path, account.uid, account.gid)
        path.chmod(0o700)
    except OSError as e:
        raise EmbeddedPostgresError(
            f"cannot prepare the PostgreSQL socket folder {path}: {e.strerror}"
        ) from None


def _acquire_lock(path: Path, timeout: float) -> int:
    """Hold an exclusive lock on ``path`` so concurrent starts on one root take turns."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise EmbeddedPostgresError(f"cannot open lock file {path}: {e.strerror}") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                os.close(fd)
                raise EmbeddedPostgresError(
                    f"another process kept {path} locked for {timeout:.0f} s"
                ) from None
        time.sleep(0.1)


def _register_user(path: Path) -> int:
    """Count this process among the server's users: a shared lock on
    ``path``, held until :func:`_last_user`.  Taken while holding the start
    lock, so no stopper holds it exclusively."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _last_user(fd: int) -> bool:
    """Whether no other live process holds a shared lock beside ours; called
    with the start lock held, so no user can arrive meanwhile."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def _clean_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST... would silently redirect the tools.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _run(
    argv: Sequence[str], account: _Account | None, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as ``account``; failures to run at all become our error."""
    program = Path(argv[0]).name
    try:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            **(account.popen_kwargs() if account is not None else {}),
        )
    except subprocess.TimeoutExpired:
        raise EmbeddedPostgresError(f"{program} did not finish within {timeout:.0f} s") from None
    except OSError as e:
        raise EmbeddedPostgresError(f"cannot run {argv[0]}: {e.strerror}") from None


def _error_line(output: str, *, last: bool = False) -> str | None:
    """The first (or ``last``, for a log that spans several runs) error message in ``output``."""
    lines = output.splitlines()
    for line in reversed(lines) if last else lines:
        # Drop the log line prefix (time, PID): the operator wants the message.
        match = re.search(r"\b(FATAL|PANIC|ERROR|error):\s*(.*)", line)
        if match:
            return f"{match.group(1)}: {match.group(2).strip()}"
    return None


def _reason(output: str) -> str:
    """The line of a program's output that says what went wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return _error_line(output) or (lines[0] if lines else "no output")


def _candidate_bindirs() -> list[Path]:
    """Folders that may hold the server binaries, most preferred first."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("pgserver")  # finds it without importing it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT,
                check=True,
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        # /usr/local/bin/pg_ctl may be a lone symlink into the real bin folder.
        candidates += [Path(pg_ctl).parent, Path(pg_ctl).resolve().parent]
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name[:1].isdigit()]
    candidates += sorted(debian, key=lambda p: _version_key(p.parent.name), reverse=True)

    unique: list[Path] = []
    seen: set[Path] = set()
    for folder in candidates:
        real = folder.resolve()
        if real in seen:
            continue
        seen.add(real)
        if all((folder / name).is_file() for name in ("pg_ctl", "initdb", "postgres")):
            unique.append(folder)
    return unique


def client_program(name: str) -> str:
    """PostgreSQL's program ``name`` from the preferred installation (see
    :func:`_candidate_bindirs`), for a server pleromad did not start."""
    for bindir in _candidate_bindirs():
        if (bindir / name).is_file():
            return str(bindir / name)
    raise EmbeddedPostgresError(
        f"PostgreSQL's {name} was not found; install pgserver (pip install pgserver) or PostgreSQL"
    )


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def _major_version(bindir: Path, account: _Account | None, cwd: Path) -> str:
    """The major version of ``bindir/postgres``, checked by running it as ``account``."""
    result = _run([str(bindir / "postgres"), "--version"], account, cwd, _PROBE_TIMEOUT)
    match = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", result.stdout)
    if result.returncode != 0 or match is None:
        raise EmbeddedPostgresError(
            f"{bindir / 'postgres'} --version failed: {_reason(result.stderr + result.stdout)}"
        )
    major, minor = match.groups()
    return major if int(major) >= 10 or minor is None else f"{major}.{minor}"


def _pick_binaries(data: Path, account: _Account | None, cwd: Path) -> _Binaries:
    """The first usable candidate; for an existing cluster, the first of its major version."""
    wanted = None
    try:
        wanted = (data / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise EmbeddedPostgresError(f"cannot read {data / 'PG_VERSION'}: {e.strerror}") from None

    found: list[str] = []
    failures: list[str] = []
    for bindir in _candidate_bindirs():
        try:
            version = _major_version(bindir, account, cwd)
        except EmbeddedPostgresError as e:
            failures.append(e.reason)
            continue
        if wanted is None or version == wanted:
            return _Binaries(bindir, version)
        found.append(f"{version} ({bindir})")

    if found:
        raise EmbeddedPostgresError(
            f"the cluster in {data} was made by PostgreSQL {wanted} but only PostgreSQL "
            f"{', '.join(found)} is installed; install PostgreSQL {wanted} or upgrade the "
            "cluster with pg_upgrade"
        )
    hint = f" (unusable: {'; '.join(failures)})" if failures else ""
    raise EmbeddedPostgresError(
        "no PostgreSQL server programs (pg_ctl, initdb, postgres) found; install pgserver "
        "(pip install pgserver) or PostgreSQL, or set [database] dsn" + hint
    )


def _initdb(binaries: _Binaries, data: Path, account: _Account | None, cwd: Path) -> None:
    """Create the cluster; ``trust`` is safe only because the socket folder is private."""
    result = _run(
        [
            binaries["initdb"],
            "-D",
            str(data),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            "--locale=C",
        ],
        account,
        cwd,
        _INITDB_TIMEOUT,
    )
    if result.returncode != 0:
        output = result.stderr + result.stdout
        raise EmbeddedPostgresError(f"initdb failed: {_reason(output)}", output)


def _is_running(binaries: _Binaries, data: Path, account: _Account | None, cwd: Path) -> bool:
    """Whether a postmaster runs on ``data`` (a stale postmaster.pid counts as not running)."""
    result = _run([binaries["pg_ctl"], "status", "-D", str(data)], account, cwd, _PROBE_TIMEOUT)
    if result.returncode == 0:
        return not _remove_zombie_pidfile(data)
    if result.returncode == 3:
        return False
    output = result.stderr + result.stdout
    raise EmbeddedPostgresError(f"pg_ctl status failed: {_reason(output)}", output)


def _remove_zombie_pidfile(data: Path) -> bool:
    """Delete postmaster.pid if the postmaster it names is a zombie; say whether it did.

    When nothing reaps orphans (a container whose PID 1 is not an init, or
    twistd as PID 1), a postmaster killed by ``kill -9`` stays a zombie: its
    PID still answers ``kill(pid, 0)``, so pg_ctl and postgres itself would
    take the stale files (postmaster.pid and the socket's lock file) for a
    live server forever.  Removing them is safe: PostgreSQL still refuses
    to start while old backends hold the cluster's shared memory, which it
    finds from the data dir, not from these files.
    """
    pidfile = data / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError, ValueError):
        return False
    if state not in ("Z", "X"):
        return False
    stale = [pidfile]
    address = _postmaster_address(data)
    if address is not None and address[0]:
        # The socket's lock file names the same dead PID and would stop the start just the same.
        socket_lock = Path(address[0]) / f".s.PGSQL.{address[1]}.lock"
        try:
            if int(socket_lock.read_text().splitlines()[0]) == pid:
                stale.append(socket_lock)
        except (OSError, IndexError, ValueError):
            pass
    for path in reversed(stale):  # postmaster.pid last: it is how we find the others
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise EmbeddedPostgresError(f"cannot remove stale {path}: {e.strerror}") from None
    return True


def _postmaster_address(data: Path) -> tuple[str, int] | None:
    """The socket folder and port a running server wrote in its postmaster.pid."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        return lines[4].strip(), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def _pg_ctl_start(
    binaries: _Binaries,
    data: Path,
    logfile: Path,
    options: list[str],
    account: _Account | None,
    cwd: Path,
) -> None:
    """Start the server and wait until it accepts connections.

    pg_ctl copes with a stale postmaster.pid left by a crash.  The options
    go through pg_ctl's ``/bin/sh -c``, hence the shell quoting.
    """
    result = _run(
        [
            binaries["pg_ctl"],
            "start",
            "-D",
            str(data),
            "-l",
            str(logfile),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "-o",
            " ".join(shlex.quote(option) for option in options),
        ],
        account,
        cwd,
        START_TIMEOUT + 30,
    )
    if result.returncode != 0:
        tail = _log_tail(logfile)
        reason = _error_line(tail, last=True) or _reason(result.stderr + result.stdout)
        raise EmbeddedPostgresError(
            f"PostgreSQL failed to start: {reason} (log: {logfile})",
            f"{result.stdout}{result.stderr}\n--- {logfile} ---\n{tail}",
        )


def _pg_ctl_stop(binaries: _Binaries, data: Path, account: _Account | None, cwd: Path) -> None:
    """Stop the server in fast mode; a server that is already gone is fine."""
    result = _run(
        [
            binaries["pg_ctl"],
            "stop",
            "-D",
            str(data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
        ],
        account,
        cwd,
        START_TIMEOUT + 30,
    )
    if result.returncode != 0 and _is_running(binaries, data, account, cwd):
        output = result.stderr + result.stdout
        raise EmbeddedPostgresError(f"PostgreSQL did not stop: {_reason(output)}", output)


def _log_tail(logfile: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(logfile, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_until_accepting(dsn: str, timeout: float, logfile: Path) -> None:
    """Wait for a server someone else started (maybe still recovering) to take connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(dsn, connect_timeout=5).close()
            return
        except psycopg2.OperationalError as e:
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"the PostgreSQL server running on this data dir does not accept "
                    f"connections: {_reason(str(e))} (log: {logfile})",
                    _log_tail(logfile),
                ) from None
        time.sleep(0.2)


def _ensure_database(dsn: str, name: str) -> None:
    """Create database ``name`` unless it exists (another process may race us to it)."""
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as e:
        raise EmbeddedPostgresError(
            f"cannot connect to the embedded PostgreSQL: {_reason(str(e))}"
        ) from None
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg2.errors.DuplicateDatabase:
                    pass
    except psycopg2.Error as e:
        raise EmbeddedPostgresError(f"cannot create database {name}: {_reason(str(e))}") from None
    finally:
        conn.close()
