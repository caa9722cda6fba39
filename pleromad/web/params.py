"""One parameter map per request, whatever the encoding.

Clients send the same parameter as a query string, an urlencoded or
multipart form, or a JSON body (Mastodon.py forms with ``key[]`` lists, toot
JSON).  They are merged (query < body < path) into :class:`Params`, whose
typed getters are the one place a handler turns input into values, so every
wrong type is a 400 and never a crash.
"""

from __future__ import annotations

import builtins
import email.parser
import email.policy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast, overload
from urllib.parse import parse_qsl

from twisted.internet.threads import deferToThread
from twisted.web.iweb import IRequest

from pleromad.errors import BadRequest, MissingField

# Bodies larger than this are decoded off the reactor thread.
_THREAD_THRESHOLD = 64 * 1024

# The texts a boolean parameter may be sent as (any case, spaces around).
TRUE_WORDS = frozenset({"true", "1", "on"})
FALSE_WORDS = frozenset({"false", "0", "off"})


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body; ``content_type`` is the client's claim."""

    filename: str
    content_type: str
    data: bytes


class Params(Mapping[str, Any]):
    """The merged parameters, with getters that validate as they read."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Params({self._values!r})"

    def str(self, name: str, default: str | None = None) -> str | None:
        """A string; JSON numbers are accepted as their decimal text."""
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise BadRequest(f"Invalid value for {name}: expected a string")

    def required_str(self, name: builtins.str) -> builtins.str:
        value = self.str(name)
        if value is None:
            raise MissingField(name)
        return value

    def int(self, name: builtins.str, default: int | None = None) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise BadRequest(f"Invalid value for {name}: expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("+-").isdigit() and text.isascii():
                return int(text)
        raise BadRequest(f"Invalid value for {name}: expected an integer")

    @overload
    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool: ...
    @overload
    def bool(self, name: builtins.str, default: None = None) -> builtins.bool | None: ...
    def bool(self, name: builtins.str, default: bool | None = None) -> bool | None:
        """true/false, 1/0 and on/off, as JSON values or strings."""
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in TRUE_WORDS:
                return True
            if text in FALSE_WORDS:
                return False
        raise BadRequest(f"Invalid value for {name}: expected a boolean")

    def list(self, name: builtins.str) -> list[builtins.str]:
        """``name[]=a&name[]=b``, a JSON array, or one value as a list of one."""
        value = self._values.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise BadRequest(f"Invalid value for {name}: expected strings")
            out.append(item)
        return out

    def file(self, name: builtins.str) -> Upload | None:
        value = self._values.get(name)
        if value is None or isinstance(value, Upload):
            return value
        raise BadRequest(f"Invalid value for {name}: expected a file")


async def read_params(request: IRequest, path_args: Mapping[str, str]) -> Params:
    """Merge query string, body and path arguments of ``request``."""
    values: dict[str, Any] = {}
    query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
    _merge_pairs(values, _form_pairs(query))
    body = await _read_body(request)
    values.update(body)
    values.update(path_args)
    for name, value in values.items():
        if not _storable(name) or not _storable(value):
            raise BadRequest(f"Invalid characters in {name}")
    return Params(values)


def _storable(value: Any) -> bool:
    """Whether PostgreSQL text and jsonb can hold ``value``: no NUL and no
    unpaired surrogate (JSON can carry both), keys included."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, Upload):
        return _storable(value.filename) and _storable(value.content_type)
    return True


async def _read_body(request: IRequest) -> dict[str, Any]:
    content = request.content
    if content is None:
        return {}
    content.seek(0, 2)
    size = content.tell()
    content.seek(0)
    if size == 0:
        return {}
    ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
    if size > _THREAD_THRESHOLD:
        return await deferToThread(decode_body, content.read(), ctype)
    return decode_body(content.read(), ctype)


def decode_body(body: bytes, ctype: str) -> dict[str, Any]:
    """The parameters of a body of content type ``ctype``; like the
    reference, a body of another type is simply not parameters."""
    decode = _DECODERS.get(ctype.split(";", 1)[0].strip().lower())
    return {} if decode is None else decode(body, ctype)


def _decode_form(body: bytes, ctype: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    _merge_pairs(values, _form_pairs(body))
    return values


def _decode_json(body: bytes, ctype: str) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("Malformed JSON body") from None
    if isinstance(value, dict):
        return value
    return {"_json": value}


def _decode_multipart(body: bytes, ctype: str) -> dict[str, Any]:
    if "boundary=" not in ctype:
        raise BadRequest("Malformed multipart body: no boundary")
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise BadRequest("Malformed multipart body")
    fields: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        # The HTTP policy decodes an RFC 2231 name to str, and a leaf part's
        # decoded payload is bytes (None for a nested multipart).
        name = cast(str, part.get_param("name", header="content-disposition"))
        if not name:
            continue
        payload = cast(bytes | None, part.get_payload(decode=True)) or b""
        filename = part.get_filename()
        if filename is not None:
            fields.append((name, Upload(filename, part.get_content_type(), payload)))
        else:
            charset = part.get_content_charset() or "utf-8"
            try:
                fields.append((name, payload.decode(charset)))
            except (LookupError, UnicodeDecodeError):
                raise BadRequest(f"Invalid encoding in field {name}") from None
    values: dict[str, Any] = {}
    _merge_pairs(values, fields)
    return values


_DECODERS = {
    "application/x-www-form-urlencoded": _decode_form,
    "application/json": _decode_json,
    "multipart/form-data": _decode_multipart,
}


def _form_pairs(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=%C3%A4`` as text pairs; anything that is not UTF-8 is a 400."""
    try:
        return parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeError:
        raise BadRequest("Parameters must be UTF-8") from None


def _merge_pairs(values: dict[str, Any], pairs: Iterable[tuple[str, Any]]) -> None:
    """Rails-style keys: ``a[]`` appends to a list, ``a[b]`` sets a map entry."""
    for key, value in pairs:
        if key.endswith("[]"):
            existing = values.setdefault(key[:-2], [])
            if not isinstance(existing, list):
                raise BadRequest(f"Conflicting values for {key[:-2]}")
            existing.append(value)
        elif key.endswith("]") and "[" in key:
            outer, inner = key[:-1].split("[", 1)
            existing = values.setdefault(outer, {})
            if not isinstance(existing, dict):
                raise BadRequest(f"Conflicting values for {outer}")
            existing[inner] = value
        else:
            values[key] = value
