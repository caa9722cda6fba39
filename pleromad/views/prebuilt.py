"""A JSON answer encoded once and served many times, with its entity tag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pleromad.views.encoding import json_bytes


@dataclass(frozen=True)
class Prebuilt:
    """The encoded body and its entity tag (quoted, as sent)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, value: Any) -> Prebuilt:
        body = json_bytes(value)
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
