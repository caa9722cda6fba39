"""What a request may be answered with, as the reference's ``accepts`` plug
decides: the API answers JSON, so an ``Accept`` header that admits no JSON
(and no ``*/*``) is a 406 rather than an answer the client said it cannot
read.  A missing header admits anything."""

from __future__ import annotations

from twisted.web.iweb import IRequest

from pleromad.errors import ApiError

JSON = ("application/json", "application/*", "*/*")
# The reference's `pleroma_api` pipeline (captcha, healthcheck) takes HTML too.
JSON_OR_HTML = (*JSON, "text/html", "text/*")


class NotAcceptable(ApiError):
    status = 406

    def __init__(self) -> None:
        super().__init__("Not acceptable")


def check_accept(request: IRequest, admitted: tuple[str, ...] = JSON) -> None:
    """Raise :class:`NotAcceptable` unless the ``Accept`` headers admit one
    of the ``admitted`` media ranges (a range with ``q=0`` admits nothing)."""
    headers = [h for h in request.requestHeaders.getRawHeaders(b"accept", []) if h.strip()]
    if not headers:
        return
    for header in headers:
        for item in header.decode("latin-1").split(","):
            media_range, *parameters = (part.strip() for part in item.split(";"))
            if media_range.lower() in admitted and quality(parameters) > 0:
                return
    raise NotAcceptable()


def quality(parameters: list[str]) -> float:
    """The ``q`` among a media range's parameters: 1 when absent or unreadable."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0
