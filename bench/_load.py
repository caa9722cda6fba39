"""Load generation for the bench scripts: HTTP load on one URL, and signed POSTs.

``load`` runs ``wrk`` when it is installed, else this module as a script: a
treq loop with a fixed concurrency in a process of its own, so that the
client never shares the measured reactor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.utils import getProcessOutputAndValue

from bench._figure import figure

# The fallback client runs as ``python -m bench._load`` from here.
ROOT = str(Path(__file__).resolve().parent.parent)


def add_load_options(parser: argparse.ArgumentParser, seconds: int, concurrency: int) -> None:
    """``--seconds`` of load per measurement and ``--concurrency`` in flight."""
    parser.add_argument("--seconds", type=int, default=seconds)
    parser.add_argument("--concurrency", type=int, default=concurrency)


async def load(
    reactor: Any,
    url: str,
    seconds: int,
    concurrency: int,
    threads: int = 2,
    headers: Sequence[str] = (),
) -> tuple[float, int]:
    """Requests per second (and non-2xx answers) over ``seconds`` of load on
    ``url``, each request with ``headers`` ("Name: value"); ``threads`` is
    wrk's (the fallback loop has one)."""
    wrk = shutil.which("wrk")
    if wrk:
        out, err, code = await getProcessOutputAndValue(
            wrk,
            [f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency"]
            + [arg for header in headers for arg in ("-H", header)]
            + [url],
            env=os.environ,
        )
        text = out.decode()
        if code != 0:
            raise SystemExit(f"wrk failed: {err.decode()}{text}")
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        return rps, int(bad[1]) if bad else 0
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        ["-m", "bench._load", url, "--seconds", str(seconds), "--concurrency", str(concurrency)]
        + [arg for header in headers for arg in ("--header", header)],
        env=os.environ,
        path=ROOT,
    )
    if code != 0:
        raise SystemExit(f"load client failed: {err.decode()}")
    result = json.loads(out)
    return result["rps"], result["bad"]


async def load_ok(reactor: Any, name: str, url: str, *args: Any, **kwargs: Any) -> float:
    """``load``'s requests per second; a run with error answers stops there,
    since its rate would measure the errors."""
    rps, bad = await load(reactor, url, *args, **kwargs)
    if bad:
        raise SystemExit(f"{name}: {bad} error answers under load")
    return rps


async def compare(
    reactor: Any,
    label: str,
    targets: dict[str, tuple[str, Sequence[str]]],
    options: argparse.Namespace,
    name: str,
    goal: str,
    **digits: str,
) -> None:
    """Load each of ``targets`` (``daemon`` and ``baseline``: url and headers)
    in turn for ``options.seconds`` at ``options.concurrency``, print their
    requests per second and ratio, and the figure ``name``."""
    results = {}
    for target, (url, headers) in targets.items():
        results[target] = await load_ok(
            reactor, target, url, options.seconds, options.concurrency, headers=headers
        )
        print(f"{label:>16}  {target:<8} {results[target]:9.1f} req/s", flush=True)
    ratio = results["daemon"] / results["baseline"]
    print(f"{label:>16}  daemon/baseline = {ratio:.3f}", flush=True)
    figure(name, results["daemon"], results["baseline"], goal, **digits)


async def post_signed(
    reactor: Any,
    pool: Any,
    urls: Sequence[str],
    body: bytes,
    signer: tuple[str, str],
    concurrency: int,
) -> list[tuple[str, int]]:
    """POST ``body`` to each of ``urls``, signed as a delivery job signs it
    (``signer`` is the key id and private key), ``concurrency`` at a time on
    treq's ``pool``; the URLs that answered other than 202, with the code."""
    import treq

    from pleromad.federation import httpsig
    from pleromad.federation.fetch import AP_CONTENT_TYPE

    queue = iter(urls)
    refused: list[tuple[str, int]] = []

    async def worker() -> None:
        for url in queue:
            headers = httpsig.sign_headers(
                "POST", url, key_id=signer[0], private_key_pem=signer[1],
                now=reactor.seconds(), body=body,
            )  # fmt: skip
            headers["Content-Type"] = AP_CONTENT_TYPE
            response = await treq.post(url, body, headers=headers, pool=pool)
            await treq.content(response)
            if response.code != 202:
                refused.append((url, response.code))

    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
    return refused


def signed_create(
    inbox: str, private_key_pem: str, note: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a POST to ``inbox`` of a Create of ``note`` by
    its author, addressed as the note is and signed now with the author's
    main key, as a remote server sends it."""
    from pleromad.federation.fetch import AP_CONTENT_TYPE
    from pleromad.federation.httpsig import sign_headers

    actor = note["attributedTo"]
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/activities/{uuid.uuid4()}",
        "type": "Create",
        "actor": actor,
        **{key: note[key] for key in ("to", "cc") if key in note},
        "object": note,
    }
    body = json.dumps(activity).encode()
    headers = sign_headers(
        "POST", inbox, key_id=f"{actor}#main-key", private_key_pem=private_key_pem,
        now=time.time(), body=body,
    )  # fmt: skip
    return body, {**headers, "Content-Type": AP_CONTENT_TYPE}


def client_main(url: str, seconds: int, concurrency: int, headers: Sequence[str] = ()) -> None:
    """The fallback load generator: ``concurrency`` treq loops for ``seconds``."""
    import treq
    from twisted.web.client import HTTPConnectionPool

    async def run(reactor: Any) -> None:
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = concurrency
        sent = {name: value.strip() for name, _, value in (h.partition(":") for h in headers)}
        deadline = time.monotonic() + seconds
        counts = {"ok": 0, "bad": 0}

        async def worker() -> None:
            while time.monotonic() < deadline:
                response = await treq.get(url, headers=sent, pool=pool)
                await response.content()
                counts["ok" if response.code < 400 else "bad"] += 1

        started = time.monotonic()
        await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(concurrency)])
        elapsed = time.monotonic() - started
        await pool.closeCachedConnections()
        total = counts["ok"] + counts["bad"]
        print(json.dumps({"rps": total / elapsed, "bad": counts["bad"]}))

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


if __name__ == "__main__":
    client = argparse.ArgumentParser(description="the fallback load generator of bench/")
    client.add_argument("url")
    add_load_options(client, seconds=10, concurrency=16)
    client.add_argument("--header", action="append", default=[])
    args = client.parse_args()
    client_main(args.url, args.seconds, args.concurrency, args.header)
