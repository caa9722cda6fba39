"""What a status says, rendered once at write time to safe HTML, and the one
policy for HTML that others wrote.

Three input formats (mastodon-subset §2.3.1): ``text/plain`` is escaped
with line breaks as ``<br>``; ``text/markdown`` is rendered by markdown-it-py
with the rules Pleroma's formatter keeps (:func:`markdown_to_html`);
``text/html`` is taken as written.  Markdown and HTML then pass through
:func:`sanitize_html` — Ammonia (``nh3``) with Mastodon's and Pleroma's
allow-list — the same policy that cleans HTML arriving from other servers.
The Markdown renderer's output is as untrusted as the user's HTML.

Last, the text of the clean HTML is linked (:class:`_Linker`): URLs,
``@nick`` mentions of accounts that exist (``mentions`` says which), and
``#tags``.  That markup is ours, built from escaped parts, so it is added
after sanitizing and keeps the classes and ``data-`` attributes a stranger's
HTML may not carry.

``:shortcode:`` emoji stay in the text; :func:`emoji_shortcodes` lists those
used, for the status' ``emojis``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

PLAIN = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
CONTENT_TYPES = (PLAIN, MARKDOWN, HTML)

# -- the policy ------------------------------------------------------------------

# Elements kept: the text formatting Pleroma's default scrubber and Mastodon's
# keep, and `abbr`.  Anything else (headings, rules, images, tables) is
# unwrapped: its text stays, the element goes.
ALLOWED_ELEMENTS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "i", "li", "ol", "p",
        "pre", "s", "span", "strong", "u", "ul",
    }
)  # fmt: skip
# Attributes kept, by element; `class` keeps only MEANINGFUL_CLASSES.
_ATTRIBUTES = {"a": {"href", "title", "class"}, "abbr": {"title"}, "span": {"class"}}
# The classes clients give a meaning to: microformats of mentions
# (`h-card`, `u-url`), `mention`, `hashtag`, and Mastodon's shortened-link
# spans (`invisible`, `ellipsis`).
MEANINGFUL_CLASSES = frozenset({"h-card", "u-url", "mention", "hashtag", "invisible", "ellipsis"})
# Elements dropped together with everything inside them.
_DROPPED = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "template", "noscript", "textarea",
        "select", "svg", "math", "head", "title", "frame", "frameset", "noembed", "noframes",
        "xmp", "plaintext", "applet", "audio", "video", "canvas", "button", "form", "option",
    }
)  # fmt: skip
# What a link may point to (Mastodon's list, and mailto); relative links go.
LINK_SCHEMES = frozenset(
    {
        "http", "https", "mailto", "xmpp", "magnet", "gemini", "dat", "dweb", "ipfs",
        "ipns", "ssb", "gopher",
    }
)  # fmt: skip
# Every link of the policy gets these, as Mastodon's do.
LINK_REL = "nofollow noopener noreferrer"
LINK_TARGET = "_blank"


def _keep_attribute(element: str, attribute: str, value: str) -> str | None:
    """Only the meaningful words of a ``class`` stay (none: no attribute)."""
    if attribute != "class":
        return value
    return " ".join(name for name in value.split() if name in MEANINGFUL_CLASSES) or None


_POLICY = nh3.Cleaner(
    tags=set(ALLOWED_ELEMENTS),
    clean_content_tags=set(_DROPPED),
    attributes={"*": set(), **_ATTRIBUTES},
    attribute_filter=_keep_attribute,
    strip_comments=True,
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": LINK_TARGET}},
    url_schemes=set(LINK_SCHEMES),
    url_relative="deny",
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROPPED), attributes={})


def sanitize_html(markup: str) -> str:
    """``markup`` reduced to the allow-list: the one policy for HTML written
    by strangers (remote content, summaries, names, bios, fields, poll
    options) and for local HTML and Markdown.  No script, style, event
    handler, frame or form survives, links point only to :data:`LINK_SCHEMES`
    and carry ``rel`` :data:`LINK_REL`; the result is well-formed."""
    return _POLICY.clean(markup)


def sanitize_text(text: str) -> str:
    """Text that may carry markup (a spoiler), as HTML-escaped text: every
    element dropped, scripts and styles with their content."""
    # Re-escaped with the escaping the rest of the content uses.
    return html.escape(html.unescape(_TEXT_ONLY.clean(text)), quote=False)


# -- rendering a status ------------------------------------------------------------

# Inside these, text is not linked.
_NO_LINKS = frozenset({"a", "code", "pre"})
# Longer #words are not tags (an index entry must stay well under a page).
MAX_TAG_LENGTH = 100

# Linkify: a URL, an @mention or a #tag, wherever text is.
_LINKABLE = re.compile(
    r"(?P<url>(?<![\w/@.:])(?:https?://|mailto:|xmpp:|magnet:\?|gemini://)[^\s<>\"]+)"
    r"|(?P<mention>(?<![\w@/.:+-])@(?P<nick>[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)"
    r"(?:@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9](?::\d{1,5})?))?)"
    r"|(?P<tag>(?<![\w&#/])#(?P<name>\w*[^\W\d]\w*))"
)
_URL_TRAILER = ".,;:!?'\"*"
_SHORTCODE = re.compile(r":([A-Za-z0-9_+-]{1,100}):")


@dataclass(frozen=True)
class MentionTarget:
    """An account a mention may name: its id, nickname and profile URL."""

    id: int
    nickname: str
    url: str


@dataclass(frozen=True)
class Rendered:
    html: str
    # Accounts the text mentions (and links), in order of first mention.
    mentions: tuple[MentionTarget, ...]
    # Lower-cased hashtags, in order of first use.
    tags: tuple[str, ...]


def mention_candidates(text: str) -> set[str]:
    """Every ``nick`` or ``nick@host`` the text could mention (a superset:
    whether each is an account, and linked, is decided by the caller and
    :func:`link_content`)."""
    found = set()
    for match in _LINKABLE.finditer(text):
        if match.group("mention"):
            found.add(_mention_key(match))
    return found


def _mention_key(match: re.Match[str]) -> str:
    host = match.group("host")
    nick = match.group("nick")
    return f"{nick}@{host}".lower() if host else nick.lower()


def safe_markup(text: str, content_type: str) -> str:
    """``text`` in ``content_type`` (one of :data:`CONTENT_TYPES`) as safe
    HTML, not yet linked: the costly half of rendering, which needs no
    database and so may run in a thread."""
    if content_type == HTML:
        return sanitize_html(text)
    if content_type == MARKDOWN:
        return sanitize_html(markdown_to_html(text))
    return html.escape(text, quote=False).replace("\r\n", "\n").replace("\n", "<br>")


def link_content(markup: str, *, base_url: str, mentions: Mapping[str, MentionTarget]) -> Rendered:
    """:func:`safe_markup`'s ``markup`` with URLs, mentions and tags linked.

    ``mentions`` maps each lower-cased ``nick`` / ``nick@host`` that names an
    account to it; other ``@names`` stay plain text.
    """
    linker = _Linker(base_url.rstrip("/"), mentions)
    linker.feed(markup)
    linker.close()
    return Rendered("".join(linker.out), tuple(linker.mentioned.values()), tuple(linker.tags))


def emoji_shortcodes(*texts: str) -> list[str]:
    """The ``:shortcode:`` names used in ``texts``, each once, in order."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _SHORTCODE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def link_to(url: str) -> str:
    """A link to ``url`` showing it, with the policy's attributes in the
    order :func:`sanitize_html` writes them, so that a URL typed bare reads
    like one written as a link."""
    return (
        f'<a href="{html.escape(url)}" target="{LINK_TARGET}" rel="{LINK_REL}">'
        f"{html.escape(url, quote=False)}</a>"
    )


class _Linker(HTMLParser):
    """Links the text of HTML that is already safe (escaped plain text, or
    :func:`sanitize_html`'s output): its elements pass as they are, its text
    is re-escaped with URLs, known mentions and tags linked — but not inside
    links or code."""

    def __init__(self, base_url: str, mentions: Mapping[str, MentionTarget]) -> None:
        super().__init__(convert_charrefs=True)
        self._base_url = base_url
        self._mentions = mentions
        self._unlinked = 0
        self.out: list[str] = []
        self.mentioned: dict[int, MentionTarget] = {}
        self.tags: dict[str, None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")
        if tag in _NO_LINKS:
            self._unlinked += 1

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")
        if tag in _NO_LINKS:
            self._unlinked -= 1

    def handle_data(self, data: str) -> None:
        if self._unlinked:
            self.out.append(html.escape(data, quote=False))
            return
        position = 0
        for match in _LINKABLE.finditer(data):
            linked, end = self._link(match)
            if linked is None:
                continue
            self.out.append(html.escape(data[position : match.start()], quote=False))
            self.out.append(linked)
            position = end
        self.out.append(html.escape(data[position:], quote=False))

    def _link(self, match: re.Match[str]) -> tuple[str | None, int]:
        if match.group("url"):
            url = _trim_url(match.group("url"))
            return link_to(url), match.start() + len(url)
        if match.group("mention"):
            target = self._mentions.get(_mention_key(match))
            if target is None:
                return None, match.end()
            self.mentioned.setdefault(target.id, target)
            local_part = html.escape(target.nickname.split("@", 1)[0], quote=False)
            return (
                f'<span class="h-card"><a class="u-url mention" data-user="{target.id}"'
                f' href="{html.escape(target.url)}" rel="ugc">@<span>{local_part}</span></a>'
                f"</span>",
                match.end(),
            )
        name = match.group("name")
        if len(name) > MAX_TAG_LENGTH:
            return None, match.end()
        tag = name.lower()
        self.tags.setdefault(tag, None)
        href = html.escape(f"{self._base_url}/tag/{tag}")
        return (
            f'<a class="hashtag" data-tag="{html.escape(tag)}" href="{href}" rel="tag">'
            f"#{html.escape(name, quote=False)}</a>",
            match.end(),
        )


def _trim_url(url: str) -> str:
    """A URL found in text, without the punctuation that ends its sentence
    (a closing parenthesis only when the URL opened none)."""
    while url:
        last = url[-1]
        if last in _URL_TRAILER or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def markdown_to_html(text: str) -> str:
    """Markdown as HTML: paragraphs (a line break is ``<br>``), emphasis,
    ``~~del~~``, code spans and blocks, quotes, lists, links and autolinks;
    inline HTML is passed on, for :func:`sanitize_html` to judge like any
    other HTML.

    markdown-it is imported on the first Markdown status, not with this
    module: most statuses are plain text, and an idle daemon need not carry
    the parser (see docs/memory.md)."""
    from pleromad.domain import markdown

    return markdown.to_html(text)
