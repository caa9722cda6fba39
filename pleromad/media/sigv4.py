"""AWS Signature Version 4 for S3 requests: pure functions, no I/O.

Small enough to own (an S3-compatible store needs only header signing of
single requests), and checked against AWS's published example and against
botocore's signer in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
# The payload hash of an empty body.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str
    service: str = "s3"


def payload_hash(body: bytes) -> str:
    """The ``x-amz-content-sha256`` of ``body`` (hash large bodies off the reactor)."""
    return hashlib.sha256(body).hexdigest()


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body_sha256: str,
    credentials: Credentials,
    now: float,
) -> dict[str, str]:
    """``headers`` plus Host, x-amz-date, x-amz-content-sha256 and the
    Authorization that signs them all."""
    parts = urlsplit(url)
    moment = datetime.fromtimestamp(now, UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {
        **{name.lower(): " ".join(value.split()) for name, value in headers.items()},
        "host": parts.netloc,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": body_sha256,
    }
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            quote(unquote(parts.path) or "/", safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            body_sha256,
        ]
    )
    scope = f"{day}/{credentials.region}/{credentials.service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _signing_key(credentials, day)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    added = {name: signed[name] for name in ("host", "x-amz-date", "x-amz-content-sha256")}
    return {**headers, **added, "authorization": authorization}


def _canonical_query(query: str) -> str:
    pairs = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in parse_qsl(query, keep_blank_values=True)
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def _signing_key(credentials: Credentials, day: str) -> bytes:
    key = ("AWS4" + credentials.secret_key).encode("utf-8")
    for part in (day, credentials.region, credentials.service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
