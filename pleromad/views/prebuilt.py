"""A JSON answer encoded once and served many times, with its entity tag."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prebuilt:
    """The encoded body and its entity tag (quoted, as sent)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, value: Any) -> Prebuilt:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
