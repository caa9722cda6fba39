"""RSA key pairs of the actors this server signs as.

Making a pair takes tens of milliseconds of CPU inside OpenSSL, and the
``cryptography`` binding holds the GIL meanwhile: in a thread it would stall
the reactor (six sign-ups at once held it for a quarter of a second).  So
pairs are made in a separate process, one worker started on first use; a
thread only waits for its answer.  ``multiprocessing`` and the process pool
are imported then too: a daemon that makes no key carries neither (see
docs/memory.md).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet.threads import deferToThread

from pleromad.model import KeyPair

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

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


def _make_in_worker() -> tuple[str, str]:
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
        workers = _workers
    return workers.submit(_generate).result()


async def generate_key_pair() -> KeyPair:
    """A new RSA 2048 pair, made off the reactor and off its process's GIL."""
    public, private = await deferToThread(_make_in_worker)
    return KeyPair(public_key_pem=public, private_key_pem=private)
