"""The building blocks routes describe their operations with.

Parameters are declared once per operation as ``fields``: the daemon merges
the query string with a JSON, urlencoded or multipart body (see
:mod:`pleromad.web.params`), so :mod:`.document` writes them as query
parameters for GET and DELETE and as a body in all three encodings for the
other methods.  Schemas are JSON Schema 2020-12, as OpenAPI 3.1 has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pleromad.web.params import FALSE_WORDS, TRUE_WORDS

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
ID: Schema = {"type": "string", "description": "An id, as a decimal string."}
DATETIME: Schema = {"type": "string", "format": "date-time"}
# An uploaded file: only a multipart body can carry one.
FILE: Schema = {"type": "string", "format": "binary"}


# What text may hold: PostgreSQL stores no NUL (see pleromad.web.params; no
# unpaired surrogate either, which no UTF-8 request can carry).  Said once in
# the document's description, and as a schema for a body's keys and extra
# values only: a pattern on every string costs a fuzzer dearly.
TEXT: Schema = {"pattern": "^[^\\u0000]*$"}
# White space, as str.strip() sees it.
SPACE = "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# Text with something in it besides white space.
NON_BLANK: Schema = {"type": "string", "pattern": f"^[^\\u0000]*[^\\u0000{SPACE}][^\\u0000]*$"}


def present(*names: str, **schemas: Schema) -> Schema:
    """A rule of :attr:`Operation.any_of`: these fields are there, and
    match ``schemas`` where given."""
    rule: Schema = {"required": list(names)}
    if schemas:
        rule["properties"] = schemas
    return rule


def flag(*also: str) -> Schema:
    """What the daemon reads as a boolean (:meth:`pleromad.web.params.Params.bool`),
    and the texts ``also`` a field takes besides."""
    words = sorted(TRUE_WORDS | FALSE_WORDS)
    return {"anyOf": [BOOLEAN, {"enum": [0, 1, *words, *also]}]}


FLAG: Schema = flag()

# A pagination cursor: an id, read as an integer (other text is a 400).
CURSOR: Schema = {"type": "integer", "description": "An id: entries are paged by it."}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, NULL]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def map_of(values: Schema) -> Schema:
    """An object whose keys are data (ids, shortcodes, ...)."""
    return {"type": "object", "additionalProperties": values}


def closed(properties: Mapping[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these keys, all present but ``optional``."""
    unknown = set(optional) - set(properties)
    assert not unknown, f"optional keys not among the properties: {unknown}"
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": dict(properties),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Response:
    """One documented answer: a JSON ``schema``, or another ``media_type``,
    or (both None) no body at all."""

    description: str
    schema: Schema | None = None
    media_type: str | None = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    # The same answer in other media types (content negotiation): type -> schema.
    alternatives: Mapping[str, Schema] = field(default_factory=dict)


def answer(schema: Schema, description: str = "Success.", **headers: str) -> Response:
    return Response(description, schema, headers=headers)


def no_content(description: str = "Done; no body.", **headers: str) -> Response:
    return Response(description, None, None, headers)


def html(description: str) -> Response:
    return Response(description, STRING, "text/html")


def binary(description: str, media_type: str = "application/octet-stream") -> Response:
    return Response(description, FILE, media_type)


# The Link header of Mastodon pagination (``max_id``/``since_id``/``min_id``).
PAGINATED = {"Link": "Links to the next and previous pages, when there are any."}

# The headers of a rate-limited route (DECISIONS 27).
RATE_LIMITED = {
    "X-RateLimit-Limit": "Attempts allowed per window; absent when rate limits are off.",
    "X-RateLimit-Remaining": "Attempts left in this window; absent when rate limits are off.",
    "X-RateLimit-Reset": "When the window ends (ISO 8601); absent when rate limits are off.",
}


def busy(work: str) -> Response:
    """The 503 of an operation whose CPU-heavy ``work`` waits in a bounded
    queue (:mod:`pleromad.workers`); it stands for the shared 503 too."""
    return Response(
        f"Too many {work} are waiting for the CPU already: nothing was done, try again after"
        " Retry-After seconds.  Or the database is unavailable.",
        ref("Error"),
        headers={"Retry-After": "Seconds to wait before trying again (when busy)."},
    )


def note(schema: Schema, text: str) -> Schema:
    """``schema`` with a description."""
    return {**schema, "description": text}


@dataclass(frozen=True)
class Operation:
    """One method on one path.

    ``errors`` maps each status the operation answers ``{"error": ...}``
    with to when it does; the errors every operation shares (malformed
    parameters, credentials, an unavailable database) are added by
    :mod:`.document`.  ``files`` are fields only a multipart body carries;
    a field in both ``fields`` and ``files`` takes a string (a data URL, or
    ``""``) in the other encodings.
    """

    summary: str
    responses: Mapping[int, Response]
    fields: Mapping[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    files: Mapping[str, Schema] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)
    path: Mapping[str, Schema] = field(default_factory=dict)
    description: str | None = None
    # Schemas of which a body must match one at least (a rule across fields).
    any_of: tuple[Schema, ...] = ()

    def __post_init__(self) -> None:
        named = set(self.required).union(*(rule.get("required", ()) for rule in self.any_of))
        unknown = named - set(self.fields) - set(self.files)
        assert not unknown, f"required fields that are not declared: {unknown}"


# The pagination parameters of Mastodon lists.
def page_fields(max_limit: int) -> dict[str, Schema]:
    return {
        "max_id": CURSOR,
        "since_id": CURSOR,
        "min_id": CURSOR,
        "limit": {
            "type": "integer",
            "minimum": 0,
            "description": f"Default 20; more than {max_limit} counts as {max_limit}.",
        },
    }
