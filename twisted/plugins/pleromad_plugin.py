"""The ``twistd pleromad`` plugin; everything else lives in the pleromad package."""

from twisted.application.service import ServiceMaker

pleromad = ServiceMaker(
    "pleromad",
    "pleromad.service",
    "Serve the Pleroma API.",
    "pleromad",
)
