"""The daemon as operators run it: real ``twistd`` and ``pleromad-ctl`` processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import contract
from tests.helpers import is_alive

BIN = Path(sys.executable).parent
STOP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str) -> tuple[int, object]:
    """The status and JSON body of a GET, checked against the OpenAPI document."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read()
            content_type = response.headers["content-type"]
    except urllib.error.HTTPError as e:
        status, content_type, body = e.code, e.headers["content-type"], e.read()
    contract.check("GET", url, status, content_type, body)
    return status, json.loads(body)


class Daemon:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = free_port()
        self.log = tmp_path / "twistd.log"
        self.process = subprocess.Popen(
            [
                str(BIN / "twistd"),
                "-n",
                "--pidfile=",
                "--logfile",
                str(self.log),
                "pleromad",
                "--listen",
                f"tcp:{self.port}:interface=127.0.0.1",
                *args,
            ],
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read() + self.log.read_text()
            try:
                status, body = http_get(self.base + "/api/pleroma/healthcheck")
            except (OSError, ValueError):
                time.sleep(0.1)
                continue
            if status == 200:
                return body
        raise AssertionError("the daemon never became healthy:\n" + self.log.read_text())

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_SECONDS)


# After a clean shutdown twistd re-raises the signal that stopped it, so the
# parent (systemd counts SIGTERM as success) sees "terminated by SIGTERM".
CLEAN_STOP = -signal.SIGTERM


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def ctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pleromad-ctl"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_daemon_serves_and_stops_cleanly_on_sigterm(
    tmp_path: Path, dsn: str, daemons: list[Daemon]
) -> None:
    """twistd pleromad on an existing database answers over TCP and shuts down cleanly
    on SIGTERM."""
    daemon = Daemon(tmp_path, "--dsn", dsn)
    daemons.append(daemon)
    health = daemon.wait_healthy()
    assert health["healthy"] is True and health["pool_size"] == 10
    status, body = http_get(daemon.base + "/api/v1/nothing/here/")
    assert (status, body) == (404, {"error": "Not implemented"})
    assert daemon.terminate() == CLEAN_STOP
    log = daemon.log.read_text()
    assert "Traceback" not in log
    assert "Server Shut Down" in log


def test_embedded_default_with_ctl_beside_it(tmp_path: Path, daemons: list[Daemon]) -> None:
    """With no DSN the daemon runs its own PostgreSQL under the data dir; pleromad-ctl
    reaches the same database while the daemon runs; SIGTERM stops both."""
    config = tmp_path / "pleromad.toml"
    config.write_text('[server]\ndata_dir = "data"\n')
    daemon = Daemon(tmp_path, "--config", str(config))
    daemons.append(daemon)
    assert daemon.wait_healthy()["healthy"] is True
    migrate = ctl(tmp_path, "--config", str(config), "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "schema up to date" in migrate.stdout
    assert "applied" not in migrate.stdout  # the daemon already migrated this database
    assert daemon.wait_healthy()["healthy"] is True  # ctl left the server running
    assert daemon.terminate() == CLEAN_STOP
    assert not (tmp_path / "data/postgres/data/postmaster.pid").exists()


def test_a_postmaster_left_by_a_killed_daemon_is_stopped_by_the_next(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """kill -9 of the daemon leaves its embedded PostgreSQL running; the next
    daemon on the data folder takes it over, and its clean stop stops it."""
    config = tmp_path / "pleromad.toml"
    config.write_text('[server]\ndata_dir = "data"\n')
    pid_file = tmp_path / "data/postgres/data/postmaster.pid"
    first = Daemon(tmp_path, "--config", str(config))
    daemons.append(first)
    first.wait_healthy()
    postmaster = int(pid_file.read_text().split()[0])
    first.process.kill()
    first.process.wait()
    assert is_alive(postmaster)  # nobody stopped it

    second = Daemon(tmp_path, "--config", str(config))
    daemons.append(second)
    second.wait_healthy()
    assert second.terminate() == CLEAN_STOP
    assert not pid_file.exists()
    assert not is_alive(postmaster)


def test_ctl_never_creates_a_cluster(tmp_path: Path) -> None:
    """pleromad-ctl on a data folder without a cluster refuses in one line and
    creates nothing; `migrate --init` creates it."""
    config = tmp_path / "pleromad.toml"
    config.write_text('[server]\ndata_dir = "data"\n')
    refused = ctl(tmp_path, "--config", str(config), "user", "invites")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("pleromad-ctl: no database cluster in ")
    assert line.endswith("or run pleromad-ctl migrate --init to create it")
    assert not (tmp_path / "data/postgres/data/PG_VERSION").exists()

    created = ctl(tmp_path, "--config", str(config), "migrate", "--init")
    assert created.returncode == 0, created.stderr
    assert "schema up to date" in created.stdout
    assert not (tmp_path / "data/postgres/data/postmaster.pid").exists()  # and stopped again
    listed = ctl(tmp_path, "--config", str(config), "user", "invites")
    assert listed.returncode == 0, listed.stderr


def test_misspelt_key_is_one_line_and_nonzero(tmp_path: Path) -> None:
    """A configuration mistake stops the start with one line naming the key."""
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nlisten_on = 'tcp:4000'\n")
    result = subprocess.run(
        [str(BIN / "twistd"), "-n", "--pidfile=", "pleromad", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert result.stderr == "pleromad: config error: [server] listen_on: unknown key\n"


def test_unreachable_database_fails_start_with_one_line(tmp_path: Path) -> None:
    """A database that cannot be reached at start: non-zero exit, one line, no traceback."""
    missing = tmp_path / "nosocket"
    result = subprocess.run(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "--logfile",
            str(tmp_path / "log"),
            "pleromad",
            "--listen",
            f"tcp:{free_port()}:interface=127.0.0.1",
            "--dsn",
            f"host={missing} dbname=x",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pleromad: cannot start: "), result.stderr
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_ctl_errors_are_one_line(tmp_path: Path) -> None:
    """pleromad-ctl reports usage, configuration and database problems in one line."""
    bogus = ctl(tmp_path, "bogus")
    assert bogus.returncode == 2 and len(bogus.stderr.splitlines()) == 1
    config = tmp_path / "bad.toml"
    config.write_text("[database]\npool_size = 0\n")
    bad = ctl(tmp_path, "--config", str(config), "migrate")
    assert bad.returncode == 1
    assert bad.stderr.startswith("pleromad-ctl: config error: [database] pool_size: ")
    assert len(bad.stderr.splitlines()) == 1
    down = ctl(tmp_path, "--dsn", f"host={tmp_path / 'none'} dbname=x", "migrate")
    assert down.returncode == 1 and len(down.stderr.splitlines()) == 1


def test_ctl_migrate_on_a_fresh_database(tmp_path: Path, pg_server: object) -> None:
    """pleromad-ctl migrate applies every migration to an empty database, then nothing."""
    name = pg_server.create_database(template=None)
    try:
        target = pg_server.dsn_for(name)
        first = ctl(tmp_path, "--dsn", target, "migrate")
        assert first.returncode == 0, first.stderr
        assert "applied 0001_settings" in first.stdout
        second = ctl(tmp_path, "--dsn", target, "migrate")
        assert second.returncode == 0 and "applied" not in second.stdout
    finally:
        pg_server.drop_database(name)


def test_sd_notify_ready_after_port_bound(tmp_path: Path, dsn: str) -> None:
    """Under systemd the daemon says READY=1 once it serves, and STOPPING=1 on SIGTERM."""
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(60)
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "--logfile",
            str(tmp_path / "log"),
            "pleromad",
            "--listen",
            f"tcp:{port}:interface=127.0.0.1",
            "--dsn",
            dsn,
        ],
        cwd=tmp_path,
        env={**os.environ, "NOTIFY_SOCKET": address},
    )
    try:
        ready = listener.recv(4096).decode()
        assert "READY=1" in ready
        # Ready means serving: the port answers at once.
        assert http_get(f"http://127.0.0.1:{port}/api/pleroma/healthcheck")[0] == 200
        process.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in listener.recv(4096).decode()
        assert process.wait(STOP_SECONDS) == CLEAN_STOP
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()


def test_sighup_reloads_custom_emoji(tmp_path: Path, dsn: str, daemons: list[Daemon]) -> None:
    """systemctl reload (SIGHUP) picks up new custom emoji without a restart."""
    from PIL import Image

    folder = tmp_path / "emoji"
    folder.mkdir()
    for name in ("first", "second"):
        Image.new("RGB", (16, 16), "red").save(folder / f"{name}.png")
    (folder / "emoji.txt").write_text("first, first.png, Test\n")
    config = tmp_path / "pleromad.toml"
    config.write_text(f'[emoji]\ndir = "{folder}"\n')
    daemon = Daemon(tmp_path, "--config", str(config), "--dsn", dsn)
    daemons.append(daemon)
    daemon.wait_healthy()
    assert set(http_get(daemon.base + "/api/pleroma/emoji")[1]) == {"first"}
    (folder / "emoji.txt").write_text("first, first.png, Test\nsecond, second.png, Test\n")
    daemon.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while set(http_get(daemon.base + "/api/pleroma/emoji")[1]) != {"first", "second"}:
        assert time.monotonic() < deadline, "the emoji were not reloaded"
        time.sleep(0.1)
    assert daemon.terminate() == CLEAN_STOP


def twistd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``twistd -n pleromad ARGS``, run to its end, its log in tmp_path/log."""
    return subprocess.run(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "--logfile",
            str(tmp_path / "log"),
            "pleromad",
            *args,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("listen", "reason"),
    [
        ("bogus:xyz", "not a usable endpoint: Unknown endpoint type: 'bogus'"),
        ("4000x", "not a usable endpoint: Unknown endpoint type: '4000x'"),
        ("tcp:notaport", "not a usable endpoint: invalid literal for int()"),
        ("tcp:4000:colour=red", "not a usable endpoint: "),
        ("tcp:99999", "port 99999 is outside 0..65535"),
        ("tcp:-1", "port -1 is outside 0..65535"),
    ],
)
def test_a_bad_listen_is_one_line_and_exits_78(tmp_path: Path, listen: str, reason: str) -> None:
    """An endpoint Twisted refuses, or a port that cannot exist, is a
    configuration error: one line naming the option, exit 78, and nothing
    started (no data folder, no database)."""
    result = twistd(tmp_path, "--listen", listen, "--data-dir", "data")
    assert result.returncode == 78
    [line] = result.stderr.splitlines()
    assert line.startswith(f"pleromad: config error: --listen: {listen}: {reason}")
    assert not (tmp_path / "data").exists()


def test_a_bad_listen_in_the_file_names_the_key(tmp_path: Path) -> None:
    """The same mistake in the configuration file names [server] listen."""
    config = tmp_path / "pleromad.toml"
    config.write_text('[server]\nlisten = "tcp:70000"\n')
    result = twistd(tmp_path, "--config", str(config))
    assert result.returncode == 78
    expected = (
        "pleromad: config error: [server] listen: tcp:70000: port 70000 is outside 0..65535\n"
    )
    assert result.stderr == expected


def test_a_data_folder_that_is_not_one_is_refused_before_start(tmp_path: Path) -> None:
    """A data folder that cannot be used (here a file stands in its way) is a
    configuration error, in one line naming the option."""
    (tmp_path / "afile").write_text("")
    result = twistd(tmp_path, "--data-dir", "afile/data")
    assert result.returncode == 78
    assert (
        result.stderr == f"pleromad: config error: --data-dir: {tmp_path / 'afile'}: not a folder\n"
    )


def test_a_port_in_use_is_one_line_and_exits_1(tmp_path: Path, dsn: str) -> None:
    """A port another process holds: exit 1 after one line saying so, no
    traceback in the log."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listen = f"tcp:{port}:interface=127.0.0.1"
        result = twistd(tmp_path, "--listen", listen, "--dsn", dsn)
    assert result.returncode == 1
    assert result.stderr == f"pleromad: cannot start: --listen {listen}: port {port} is in use\n"
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_metrics_on_their_own_port(tmp_path: Path, dsn: str, daemons: list[Daemon]) -> None:
    """[metrics] listen serves Prometheus' text format at /metrics on its own
    port: requests by route template, the pool, the reactor's lag; the
    public port has no /metrics."""
    metrics_port = free_port()
    config = tmp_path / "pleromad.toml"
    config.write_text(f'[metrics]\nlisten = "tcp:{metrics_port}:interface=127.0.0.1"\n')
    daemon = Daemon(tmp_path, "--config", str(config), "--dsn", dsn)
    daemons.append(daemon)
    daemon.wait_healthy()
    assert http_get(daemon.base + "/metrics")[0] == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as got:
        assert got.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = got.read().decode("utf-8")
    requests = [
        line
        for line in text.splitlines()
        if line.startswith("pleromad_http_requests_total{")
        and 'route="/api/pleroma/healthcheck"' in line
        and 'status="200"' in line
    ]
    assert len(requests) == 1 and 'method="GET"' in requests[0]
    assert 'pleromad_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert "pleromad_db_pool_size 10.0" in text
    assert "pleromad_db_pool_waiting 0.0" in text
    assert 'pleromad_db_interaction_duration_seconds_count{description="ping"}' in text
    assert "pleromad_reactor_lag_seconds_count" in text
    assert daemon.terminate() == CLEAN_STOP


def test_metrics_on_the_public_listen_are_refused(tmp_path: Path) -> None:
    """A metrics endpoint equal to the public one is a configuration error."""
    config = tmp_path / "pleromad.toml"
    config.write_text('[server]\nlisten = "tcp:4000"\n[metrics]\nlisten = "tcp:4000"\n')
    result = twistd(tmp_path, "--config", str(config))
    assert result.returncode == 78
    assert result.stderr == (
        "pleromad: config error: [metrics] listen: tcp:4000: must not be the public"
        " [server] listen (tcp:4000)\n"
    )
