"""pleromad-ctl backup and restore, as an operator runs them beside the daemon."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import requests
from PIL import Image

from tests import test_twistd
from tests.test_twistd import CLEAN_STOP, Daemon, ctl

# The twistd tests' fixture: daemons started by a test are killed after it.
daemons = test_twistd.daemons


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def configured(tmp_path: Path, name: str) -> Path:
    config = tmp_path / f"{name}.toml"
    config.write_text(f'[server]\ndata_dir = "{name}"\n')
    return config


def test_round_trip_while_the_daemon_runs(tmp_path: Path, daemons: list[Daemon]) -> None:
    """A backup taken while the daemon serves, restored into an empty data
    folder, brings back the same accounts, statuses and media; a second
    restore into that folder is refused in one line."""
    first = configured(tmp_path, "first")
    daemon = Daemon(tmp_path, "--config", str(first))
    daemons.append(daemon)
    daemon.wait_healthy()
    made = ctl(tmp_path, "--config", str(first), "user", "new", "alice", "alice@example.org",
               "--password", "correct horse", "-y")  # fmt: skip
    assert made.returncode == 0, made.stderr
    login = ("alice", "correct horse")
    picture = png()
    media = requests.post(
        daemon.base + "/api/v1/media", auth=login, files={"file": ("p.png", picture)}, timeout=30
    ).json()
    status = requests.post(
        daemon.base + "/api/v1/statuses",
        auth=login,
        data={"status": "kept safe", "media_ids[]": media["id"]},
        timeout=30,
    ).json()

    archive = tmp_path / "backup.tar.gz"
    saved = ctl(tmp_path, "--config", str(first), "backup", str(archive))
    assert saved.returncode == 0, saved.stderr
    assert "1 uploaded files" in saved.stdout
    assert daemon.wait_healthy()["healthy"] is True  # the backup left it serving
    assert daemon.terminate() == CLEAN_STOP
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[:2] == ["pleromad-backup.json", "database.dump"]

    second = configured(tmp_path, "second")
    restored = ctl(tmp_path, "--config", str(second), "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert not (tmp_path / "second/postgres/data/postmaster.pid").exists()  # stopped again
    again = ctl(tmp_path, "--config", str(second), "restore", str(archive))
    assert again.returncode == 1
    [line] = again.stderr.splitlines()
    assert "already holds a database cluster" in line

    revived = Daemon(tmp_path, "--config", str(second))
    daemons.append(revived)
    revived.wait_healthy()
    found = requests.get(
        revived.base + f"/api/v1/statuses/{status['id']}", auth=login, timeout=30
    ).json()
    assert found["content"] == status["content"]
    assert found["account"]["acct"] == "alice"
    path = found["media_attachments"][0]["url"].split("/media/", 1)[1]
    served = requests.get(revived.base + "/media/" + path, timeout=30)
    assert served.status_code == 200
    assert Image.open(io.BytesIO(served.content)).size == (12, 8)
    assert revived.terminate() == CLEAN_STOP


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    """Anything but an archive pleromad-ctl wrote is refused in one line, before
    any cluster is made."""
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not an archive")
    config = configured(tmp_path, "target")
    refused = ctl(tmp_path, "--config", str(config), "restore", str(bogus))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"pleromad-ctl: {bogus}: not a pleromad backup")
    assert not (tmp_path / "target/postgres/data/PG_VERSION").exists()
