"""Password hashing, always off the reactor thread, in the CPU pool.

New hashes are argon2id with one lane: a hash then keeps one thread busy,
not four, so the pool's thread count is the CPU time hashing can take (see
:mod:`pleromad.workers`).  A hash keeps its parameters, so hashes made with
more lanes still verify, and are replaced at the next login.  Pleroma's ``$pbkdf2-sha512$rounds$salt$hash``
hashes (passlib's "adapted base64") verify too, and report that they need
an upgrade, so a migrated Pleroma database logs in unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import argon2
from twisted.internet.defer import Deferred

from pleromad.workers import WorkQueue

_PBKDF2_PREFIX = "$pbkdf2-sha512$"

# Hashes and verifications waiting or running at once before more are
# refused (503); [workers] password_queue in the daemon.
PASSWORD_QUEUE = 32


@dataclass(frozen=True)
class Verdict:
    ok: bool
    needs_rehash: bool = False


class PasswordHasher:
    """argon2id with the library's recommended time and memory costs unless
    told otherwise (the test suite asks for cheap ones: the same algorithm,
    less memory), run by ``queue`` (Busy when it is full)."""

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        queue: WorkQueue | None = None,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=argon2.DEFAULT_TIME_COST if time_cost is None else time_cost,
            memory_cost=argon2.DEFAULT_MEMORY_COST if memory_cost is None else memory_cost,
            parallelism=1,
        )
        self.queue = queue or WorkQueue(PASSWORD_QUEUE)
        self._dummy: str | None = None

    def hash(self, password: str) -> Deferred[str]:
        return self.queue.run(self._argon2.hash, password)

    def verify(self, stored: str | None, password: str) -> Deferred[Verdict]:
        """Whether ``password`` matches ``stored``; a missing hash costs the
        same time as a wrong password, so timing does not tell accounts apart."""
        return self.queue.run(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> Verdict:
        if stored is None:
            if self._dummy is None:
                self._dummy = self._argon2.hash("not a password")
            self._argon2_verdict(self._dummy, password)
            return Verdict(False)
        if stored.startswith(_PBKDF2_PREFIX):
            return Verdict(_pbkdf2_matches(stored, password), needs_rehash=True)
        return self._argon2_verdict(stored, password)

    def _argon2_verdict(self, stored: str, password: str) -> Verdict:
        try:
            self._argon2.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return Verdict(False)
        return Verdict(True, needs_rehash=self._argon2.check_needs_rehash(stored))


def _pbkdf2_matches(stored: str, password: str) -> bool:
    try:
        rounds_text, salt_text, hash_text = stored[len(_PBKDF2_PREFIX) :].split("$")
        rounds = int(rounds_text)
        salt, expected = _ab64_decode(salt_text), _ab64_decode(hash_text)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds, len(expected))
    return hmac.compare_digest(actual, expected)


def _ab64_decode(text: str) -> bytes:
    """passlib's adapted base64: '.' for '+', no padding."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def pbkdf2_hash(password: str, salt: bytes, rounds: int = 160_000) -> str:
    """A Pleroma-format hash; for tests and imports, never for new passwords."""
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds, 64)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii").rstrip("=").replace("+", ".")

    return f"{_PBKDF2_PREFIX}{rounds}${ab64(salt)}${ab64(digest)}"
