"""RSA key pairs of the actors this server signs as.

Making a pair takes tens of milliseconds of CPU inside OpenSSL, and the
``cryptography`` binding holds the GIL meanwhile: in a thread it would stall
the reactor (six sign-ups at once held it for a quarter of a second).  So
pairs are made in a separate process, one worker started on first use and
stopped with the reactor.
``multiprocessing`` and the process pool are imported then too: a daemon
that makes no key carries neither (see docs/memory.md).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pleromad.model import KeyPair
from pleromad.workers import CPU

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

# What Mastodon and Pleroma make for their actors, and what every peer accepts.
KEY_SIZE = 2048

_workers: ProcessPoolExecutor | None = None
_starting = threading.Lock()


def _generate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode("ascii"), private.decode("ascii")


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def _submit() -> Future[tuple[str, str]]:
    """Ask the worker for a pair; the first call starts it (which takes a while)."""
    global _workers
    with _starting:
        if _workers is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # A fresh interpreter, not a fork of one running a reactor and threads.
            context = multiprocessing.get_context("forkserver")
            # At the lowest priority: sign-ups wait a little, requests do not.
            _workers = ProcessPoolExecutor(
                1, mp_context=context, initializer=os.nice, initargs=(19,)
            )
            _reactor().callFromThread(_reactor().addSystemEventTrigger, "during", "shutdown", _stop)
        workers = _workers
    return workers.submit(_generate)


def _stop() -> None:
    """End the worker process with the daemon.  Without waiting for it, the
    daemon could exit before the worker was told to stop, leaving it (and
    the fork server) running for good; the wait is at most one pair."""
    global _workers
    with _starting:
        workers, _workers = _workers, None
    if workers is not None:
        workers.shutdown(wait=True, cancel_futures=True)


def _made_by_worker() -> tuple[str, str]:
    return _submit().result()


async def generate_key_pair() -> KeyPair:
    """A new RSA 2048 pair, made off the reactor and off its process's GIL.

    A CPU pool thread waits for the worker meanwhile, so that a pair counts
    against the pool's bound like a password hash: beside a pool busy
    hashing, the worker took a further quarter of a core on two, and requests
    waited up to a scheduler tick behind it (see docs/workers.md)."""
    public, private = await CPU.run(_made_by_worker)
    return KeyPair(public_key_pem=public, private_key_pem=private)
