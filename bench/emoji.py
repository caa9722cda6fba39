"""Benchmark: the prebuilt emoji list, and the daemon's idle memory.

Starts a real ``twistd pleromad`` (on an embedded PostgreSQL, fsync off)
and, as the baseline, a bare ``twistd web`` process whose one Resource
answers the same bytes the daemon serves at ``GET /api/pleroma/emoji``
(with the same content type).  Prints:

* the resident memory (VmRSS, from /proc) of both processes once started
  and idle: the daemon's goal is <= 80 MB;
* the requests per second of ``wrk -t1 -c32`` on loopback against each,
  and ``daemon/baseline``: the goal is >= 0.75.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import treq
from twisted.internet import task

from bench import _cli
from bench._figure import figure
from bench._load import load_ok
from bench._postgres import scratch_postgres
from bench._twistd import Node, Twistd

PATH = "/api/pleroma/emoji"
# How long a started process idles before its memory is read.
SETTLE_SECONDS = 3.0

# The baseline's module, made importable for ``twistd web --class``.
BASELINE_MODULE = """\
from twisted.web.resource import Resource

BODY = open({body!r}, "rb").read()


class Emoji(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return BODY
"""


class Baseline(Twistd):
    """``twistd web`` serving ``body`` from one bare Resource."""

    def __init__(self, scratch: Path, body: bytes) -> None:
        (scratch / "emoji.json").write_bytes(body)
        (scratch / "emoji_baseline.py").write_text(
            BASELINE_MODULE.format(body=str(scratch / "emoji.json"))
        )
        super().__init__(
            scratch,
            "baseline",
            "web",
            ["--class", "emoji_baseline.Emoji"],
            env={**os.environ, "PYTHONPATH": str(scratch)},
        )

    async def ready(self, reactor: Any) -> None:
        await self.answering(reactor, PATH, "the baseline", 30.0, 0.1)


def rss_mb(pid: int) -> float:
    """The process's resident set size in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


async def main(reactor: Any, options: argparse.Namespace) -> None:
    if not options.rss_only and not shutil.which("wrk"):
        raise SystemExit("bench/emoji.py needs wrk (apt-get install -y wrk)")
    async with scratch_postgres(reactor, "pleromad-bench-emoji-") as scratch:
        processes: list[Twistd] = []
        try:
            await measure(reactor, scratch.path, await scratch.migrated(), processes, options)
        finally:
            for process in processes:
                await process.stop()


async def measure(
    reactor: Any, scratch: Path, dsn: str, processes: list[Twistd], options: argparse.Namespace
) -> None:
    """Idle memory of the daemon and the baseline, then their rates in turn."""
    daemon = Node(scratch, "daemon", dsn)
    processes.append(daemon)
    await daemon.healthy(reactor)
    await task.deferLater(reactor, SETTLE_SECONDS, lambda: None)
    daemon_rss = rss_mb(daemon.process.pid)

    answer = await treq.get(daemon.base + PATH)
    body = await answer.content()
    if answer.code != 200 or not body.startswith(b"{"):
        raise SystemExit(f"the daemon answered {answer.code} for {PATH}")
    baseline = Baseline(scratch, body)
    processes.append(baseline)
    await baseline.ready(reactor)
    await task.deferLater(reactor, SETTLE_SECONDS, lambda: None)
    baseline_rss = rss_mb(baseline.process.pid)
    print(f"idle RSS  daemon {daemon_rss:6.1f} MB  bare twistd web {baseline_rss:6.1f} MB")
    figure("idle RSS (MB) vs bare twistd web", daemon_rss, baseline_rss, "<= 80 MB")
    if options.rss_only:
        return

    # Alternating rounds, so that what else the machine does weighs on both.
    results: dict[str, list[float]] = {"daemon": [], "baseline": []}
    for _ in range(options.rounds):
        for name, url in (("daemon", daemon.base + PATH), ("baseline", baseline.base + PATH)):
            rps = await load_ok(reactor, name, url, options.seconds, options.concurrency, threads=1)
            results[name].append(rps)
            print(f"GET {PATH}  {name:<8} {rps:9.1f} req/s", flush=True)
    daemon_rps, baseline_rps = (statistics.mean(results[name]) for name in results)
    print(f"GET {PATH}  daemon/baseline = {daemon_rps / baseline_rps:.3f}", flush=True)
    figure(f"GET {PATH} rps vs bare twisted.web", daemon_rps, baseline_rps, ">= 0.75")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="of load on each, per round")
    parser.add_argument("--rounds", type=int, default=4, help="of loading each in turn")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rss-only", action="store_true", help="the idle memory alone, no load")
    return _cli.parse(parser, argv, "one round of 2 s", seconds=2, rounds=1)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
