"""What a status says, rendered once at write time to safe HTML.

Three input formats (mastodon-subset §2.3.1): ``text/plain`` is escaped
with line breaks as ``<br>``; ``text/markdown`` goes through a small Markdown
renderer (:func:`markdown_to_html`); ``text/html`` is taken as it is.  All
three then pass through one sanitizer (:class:`_Sanitizer`, on the standard
library's ``html.parser``), which keeps only an allow-list of elements and
attributes, and links what the text names: URLs, ``@nick`` mentions of
accounts that exist (``mentions`` says which), and ``#tags``.  The Markdown
renderer's output is as untrusted as the user's HTML: nothing reaches the
stored content without the sanitizer's pass, so no script, event handler,
style or ``javascript:``/``data:`` link can.

``:shortcode:`` emoji stay in the text; :func:`emoji_shortcodes` lists those
used, for the status' ``emojis``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

PLAIN = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
CONTENT_TYPES = (PLAIN, MARKDOWN, HTML)

# Elements kept (their attributes are decided in _Sanitizer._attributes).
_ALLOWED = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "i", "li", "ol", "p",
        "pre", "s", "span", "strong", "u", "ul",
    }
)  # fmt: skip
_VOID = frozenset({"br", "img", "hr", "input", "wbr", "area", "base", "col", "embed",
                   "link", "meta", "param", "source", "track", "keygen"})  # fmt: skip
# Elements dropped together with everything inside them.
_DROPPED = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "template", "noscript", "textarea",
        "select", "svg", "math", "head", "title", "frame", "frameset", "noembed", "noframes",
        "xmp", "plaintext", "applet", "audio", "video", "canvas", "button", "form", "option",
    }
)  # fmt: skip
# Inside these, text is not linked.
_NO_LINKS = frozenset({"a", "code", "pre"})
# What a link may point to.
LINK_SCHEMES = frozenset({"http", "https", "mailto", "xmpp", "magnet", "gemini"})
LINK_REL = "ugc nofollow noopener"
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
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_STRIP_FROM_URL = re.compile(r"[\x00-\x20\x7f]+")
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
    :func:`render_content`)."""
    found = set()
    for match in _LINKABLE.finditer(text):
        if match.group("mention"):
            found.add(_mention_key(match))
    return found


def _mention_key(match: re.Match[str]) -> str:
    host = match.group("host")
    nick = match.group("nick")
    return f"{nick}@{host}".lower() if host else nick.lower()


def render_content(
    text: str,
    content_type: str,
    *,
    base_url: str,
    mentions: Mapping[str, MentionTarget],
) -> Rendered:
    """``text`` in ``content_type`` (one of :data:`CONTENT_TYPES`) as safe HTML.

    ``mentions`` maps each lower-cased ``nick`` / ``nick@host`` that names an
    account to it; other ``@names`` stay plain text.
    """
    if content_type == HTML:
        markup = text
    elif content_type == MARKDOWN:
        markup = markdown_to_html(text)
    else:
        markup = html.escape(text, quote=False).replace("\r\n", "\n").replace("\n", "<br>")
    sanitizer = _Sanitizer(base_url.rstrip("/"), mentions)
    sanitizer.feed(markup)
    sanitizer.close()
    return Rendered(sanitizer.result(), tuple(sanitizer.mentioned.values()), tuple(sanitizer.tags))


def sanitize_html(markup: str) -> str:
    """HTML written elsewhere (a remote post) reduced to the allow-list,
    links and text left as they are."""
    sanitizer = _Sanitizer("", {}, linkify=False)
    sanitizer.feed(markup)
    sanitizer.close()
    return sanitizer.result()


def sanitize_text(text: str) -> str:
    """Text that may carry markup (a spoiler), as HTML-escaped text: every
    element dropped, scripts and styles with their content."""
    sanitizer = _Sanitizer("", {}, allowed=frozenset(), linkify=False)
    sanitizer.feed(text)
    sanitizer.close()
    return sanitizer.result()


def emoji_shortcodes(*texts: str) -> list[str]:
    """The ``:shortcode:`` names used in ``texts``, each once, in order."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _SHORTCODE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def safe_link(url: str) -> str | None:
    """``url`` if a link to it is safe: absolute, with a scheme of
    :data:`LINK_SCHEMES` (browsers ignore whitespace and control characters
    inside a scheme, so those are removed before looking)."""
    compact = _STRIP_FROM_URL.sub("", url)
    match = _SCHEME.match(compact)
    if match is None or match.group(1).lower() not in LINK_SCHEMES:
        return None
    return url.strip()


# -- the sanitizer -------------------------------------------------------------


@dataclass
class _Open:
    tag: str
    emitted: bool


class _Sanitizer(HTMLParser):
    """Re-serializes HTML keeping only allowed elements and attributes,
    balancing what it keeps, and links the text it passes."""

    def __init__(
        self,
        base_url: str,
        mentions: Mapping[str, MentionTarget],
        *,
        allowed: frozenset[str] = _ALLOWED,
        linkify: bool = True,
    ) -> None:
        super().__init__(convert_charrefs=True)
        self._base_url = base_url
        self._mentions = mentions
        self._allowed = allowed
        self._linkify = linkify
        self._out: list[str] = []
        self._stack: list[_Open] = []
        self._dropping: list[str] = []
        self.mentioned: dict[int, MentionTarget] = {}
        self.tags: dict[str, None] = {}

    def result(self) -> str:
        for opened in reversed(self._stack):
            if opened.emitted:
                self._out.append(f"</{opened.tag}>")
        self._stack.clear()
        return "".join(self._out)

    # -- elements --

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping:
            if tag in _DROPPED and tag not in _VOID:
                self._dropping.append(tag)
            return
        if tag in _DROPPED:
            if tag not in _VOID:
                self._dropping.append(tag)
            return
        keep = tag in self._allowed
        if keep:
            self._out.append(f"<{tag}{self._attributes(tag, attrs)}>")
        if tag not in _VOID:
            self._stack.append(_Open(tag, keep))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping or tag in _DROPPED:
            return
        if tag in self._allowed:
            if tag in _VOID:
                self._out.append(f"<{tag}>")
            else:
                self._out.append(f"<{tag}{self._attributes(tag, attrs)}></{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            elif tag in self._dropping:
                del self._dropping[self._dropping.index(tag) :]
            return
        # Close up to the matching open element; a stray end tag is ignored.
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth].tag == tag:
                for opened in reversed(self._stack[depth:]):
                    if opened.emitted:
                        self._out.append(f"</{opened.tag}>")
                del self._stack[depth:]
                return

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        kept: list[tuple[str, str]] = []
        values = {name: value for name, value in attrs if value is not None}
        if tag == "a":
            href = safe_link(values.get("href", ""))
            if href is not None:
                kept.append(("href", href))
                kept.append(("rel", LINK_REL))
        if tag in ("a", "abbr") and values.get("title"):
            kept.append(("title", values["title"]))
        return "".join(f' {name}="{html.escape(value)}"' for name, value in kept)

    # -- text --

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if not self._linkify or any(o.tag in _NO_LINKS for o in self._stack):
            self._out.append(html.escape(data, quote=False))
            return
        position = 0
        for match in _LINKABLE.finditer(data):
            linked, end = self._link(match)
            if linked is None:
                continue
            self._out.append(html.escape(data[position : match.start()], quote=False))
            self._out.append(linked)
            position = end
        self._out.append(html.escape(data[position:], quote=False))

    def _link(self, match: re.Match[str]) -> tuple[str | None, int]:
        if match.group("url"):
            url = _trim_url(match.group("url"))
            if safe_link(url) is None:
                return None, match.end()
            shown = html.escape(url, quote=False)
            return (
                f'<a href="{html.escape(url)}" rel="{LINK_REL}">{shown}</a>',
                match.start() + len(url),
            )
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

    # Comments, doctypes and processing instructions are dropped.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


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


# -- Markdown ----------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(```+|~~~+)")
_BULLET = re.compile(r"^ {0,3}[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^ {0,3}\d{1,9}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>\s?(.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")

_PLACEHOLDER = "\x00{}\x00"
_PLACEHOLDER_RE = re.compile("\x00(\\d+)\x00")
_INLINE_TOKEN = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<codetext>.+?)(?P=ticks))"
    r"|(?P<escape>\\[\\`*_{}\[\]()#+\-.!~>|])"
    r"|(?P<autolink><(?P<autourl>(?:https?|mailto|xmpp|gemini):[^\s<>]+)>)"
    r"|(?P<link>!?\[(?P<label>(?:[^\[\]\\]|\\.)*)\]"
    r"\(\s*<?(?P<href>[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)>?"
    r"(?:\s+\"(?P<title>[^\"]*)\")?\s*\))"
    r"|(?P<bare>(?<![\w/])(?:https?://|gemini://)[^\s<>\"]+)",
    re.DOTALL,
)
_EMPHASIS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL), "strong"),
    (re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)", re.DOTALL), "strong"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.DOTALL), "del"),
    (re.compile(r"\*(?=\S)(.+?)(?<=\S)\*", re.DOTALL), "em"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", re.DOTALL), "em"),
)


def markdown_to_html(text: str) -> str:
    """A small, safe subset of Markdown: paragraphs (a line break is
    ``<br>``), ``**strong**``, ``*em*``, ``~~del~~``, `` `code` ``, fenced
    code blocks, ``>`` quotes, bullet and numbered lists, ``[links](url)``
    and ``<autolinks>``; headings become strong paragraphs.  Inline HTML is
    passed on, for the sanitizer to judge like any other HTML."""
    # NUL marks the renderer's placeholders; the parameter parser refuses it anyway.
    lines = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _blocks(lines)


def _blocks(lines: list[str]) -> str:
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(line.strip()) for line in paragraph) + "</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            out.append("<pre><code>" + html.escape("\n".join(body), quote=False) + "</code></pre>")
            i += 1
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        if _QUOTE.match(line):
            flush()
            quoted = []
            while i < len(lines) and (match := _QUOTE.match(lines[i])):
                quoted.append(match.group(1))
                i += 1
            out.append("<blockquote>" + _blocks(quoted) + "</blockquote>")
            continue
        list_kind = "ul" if _BULLET.match(line) else "ol" if _ORDERED.match(line) else None
        if list_kind is not None and not _RULE.match(line):
            flush()
            item_re = _BULLET if list_kind == "ul" else _ORDERED
            items: list[list[str]] = []
            while i < len(lines) and lines[i].strip():
                match = item_re.match(lines[i])
                if match:
                    items.append([match.group(1)])
                elif lines[i].startswith((" ", "\t")) and items:
                    items[-1].append(lines[i].strip())
                else:
                    break
                i += 1
            out.append(
                f"<{list_kind}>"
                + "".join("<li>" + "<br>".join(map(_inline, item)) + "</li>" for item in items)
                + f"</{list_kind}>"
            )
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            out.append("<p><strong>" + _inline(heading.group(1)) + "</strong></p>")
            i += 1
            continue
        if _RULE.match(line):
            flush()
            i += 1
            continue
        paragraph.append(line)
        i += 1
    flush()
    return "".join(out)


def _inline(text: str) -> str:
    """One run of inline Markdown as HTML: code, escapes and links are cut
    out first (their insides are not emphasis), then emphasis is applied."""
    protected: list[str] = []

    def keep(markup: str) -> str:
        protected.append(markup)
        return _PLACEHOLDER.format(len(protected) - 1)

    def token(match: re.Match[str]) -> str:
        if match.group("code"):
            return keep(
                "<code>" + html.escape(match.group("codetext").strip(), quote=False) + "</code>"
            )
        if match.group("escape"):
            return keep(html.escape(match.group("escape")[1], quote=False))
        if match.group("autolink"):
            url = match.group("autourl")
            return keep(f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>')
        if match.group("link"):
            label = _inline(match.group("label")) or html.escape(match.group("href"), quote=False)
            title = match.group("title")
            title_attr = f' title="{html.escape(title)}"' if title else ""
            return keep(f'<a href="{html.escape(match.group("href"))}"{title_attr}>{label}</a>')
        # A bare URL: linked later by the sanitizer, but never emphasised.
        return keep(match.group("bare"))

    text = _INLINE_TOKEN.sub(token, text)
    for pattern, element in _EMPHASIS:
        text = pattern.sub(lambda m, e=element: f"<{e}>{m.group(1)}</{e}>", text)
    return _restore(text, protected)


def _restore(text: str, protected: list[str]) -> str:
    def put_back(match: re.Match[str]) -> str:
        return _restore(protected[int(match.group(1))], protected)

    return _PLACEHOLDER_RE.sub(put_back, text)
