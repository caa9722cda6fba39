"""pleromad: the Pleroma API served by a Twisted daemon."""

__version__ = "0.1.0"
