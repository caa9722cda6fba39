"""Markup back to plain text, for the fields that show text (a display name,
the TwitterAPI's ``description``): pure string work, shared by the views."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def strip_tags(markup: str) -> str:
    """``markup`` without its tags; entities are left as they are."""
    return _TAG.sub("", markup)


def html_to_text(markup: str) -> str:
    """``<br>`` back to line breaks, every tag dropped, entities decoded."""
    return html.unescape(strip_tags(_BR.sub("\n", markup)))
