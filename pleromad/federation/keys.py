"""RSA key pairs of the actors this server signs as."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet.threads import deferToThread

from pleromad.model import KeyPair

# What Mastodon and Pleroma make for their actors, and what every peer accepts.
KEY_SIZE = 2048


def _generate() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(public_key_pem=public.decode("ascii"), private_key_pem=private.decode("ascii"))


async def generate_key_pair() -> KeyPair:
    """A new RSA 2048 pair, made in a thread: it takes tens of milliseconds of CPU."""
    return await deferToThread(_generate)
