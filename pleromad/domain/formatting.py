"""Plain text a user typed, turned into safe HTML.

Profile text (bios) is rendered once, when it is written: escaped, URLs
linked (as status text links them), line breaks as ``<br>``.  Nothing the
user typed can become markup, so nothing here needs the sanitizer.
"""

from __future__ import annotations

import html
import re

from pleromad.domain.content import link_to

_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)


def text_to_html(text: str) -> str:
    """Escape, link http(s) URLs and turn line breaks into ``<br>``."""
    out = []
    position = 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[position : match.start()], quote=False))
        out.append(link_to(match.group(0)))
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return re.sub(r"\r?\n", "<br>", "".join(out))
