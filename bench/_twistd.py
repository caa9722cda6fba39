"""Real ``twistd`` processes for the bench scripts that measure whole daemons."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import treq
from twisted.internet import task
from twisted.internet.threads import deferToThread

BIN = Path(sys.executable).parent
HEALTHCHECK = "/api/pleroma/healthcheck"


def free_port() -> int:
    """A loopback port nothing listens on now (the process binds it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Twistd:
    """``twistd -n <plugin> --listen <a loopback port of its own> <options>``,
    run in ``scratch`` and logging to ``scratch/<name>.log``."""

    def __init__(
        self,
        scratch: Path,
        name: str,
        plugin: str,
        options: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log = scratch / f"{name}.log"
        self.process = subprocess.Popen(
            [
                str(BIN / "twistd"),
                "-n",
                "--pidfile=",
                "--logfile",
                str(self.log),
                plugin,
                "--listen",
                f"tcp:{self.port}:interface=127.0.0.1",
                *options,
            ],
            cwd=scratch,
            env=env,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def answering(
        self, reactor: Any, path: str, what: str, seconds: float, poll: float
    ) -> None:
        """Wait until ``path`` answers 200: the process is up (``what`` names it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{what} exited; see {self.log}")
            try:
                if (await treq.get(self.base + path)).code == 200:
                    return
            except Exception:
                pass
            await task.deferLater(reactor, poll, lambda: None)
        raise SystemExit(f"{what} never answered {path}; see {self.log}")

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        await deferToThread(self.process.wait, 30)


class Node(Twistd):
    """One ``twistd pleromad`` on ``dsn``, its data in ``scratch/data``."""

    def __init__(self, scratch: Path, name: str, dsn: str, config: Path | None = None) -> None:
        options = ["--dsn", dsn, "--data-dir", str(scratch / "data")]
        if config is not None:
            options += ["--config", str(config)]
        super().__init__(scratch, name, "pleromad", options)

    async def healthy(self, reactor: Any) -> None:
        """Wait until the healthcheck answers: migrations ran, the pool is open."""
        await self.answering(reactor, HEALTHCHECK, "the daemon", 120.0, 0.2)
