"""Reading uploaded files and pictures out of a request's parameters."""

from __future__ import annotations

from pleromad.domain import media
from pleromad.domain.media import Incoming
from pleromad.errors import BadRequest, MissingField
from pleromad.web.params import Params, Upload


def incoming(upload: Upload) -> Incoming:
    return Incoming(upload.data, upload.filename)


async def image_or_clear(params: Params, name: str) -> Incoming | None:
    """A picture parameter (DECISIONS 18): a multipart file or a base64
    ``data:`` URL; ``""`` (None here) clears the picture."""
    value = params.get(name)
    if value is None:
        raise MissingField(name)
    if isinstance(value, Upload):
        return incoming(value)
    if value == "":
        return None
    if isinstance(value, str):
        return await media.from_data_url(value, name)
    raise BadRequest(f"Invalid value for {name}: expected a file or a base64 data: URL")


async def image_changes(params: Params, names: dict[str, str]) -> dict[str, Incoming | None]:
    """The picture parameters present among ``names`` (kind -> parameter)."""
    return {
        kind: await image_or_clear(params, name)
        for kind, name in names.items()
        if params.get(name) is not None
    }
