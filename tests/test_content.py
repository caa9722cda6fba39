"""The content policy: what survives :func:`sanitize_html` (the one policy for
local HTML and Markdown and for HTML from other servers), tried with a corpus
of known cross-site-scripting vectors; and what the Markdown renderer makes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
import pytest_twisted

from pleromad.domain.content import (
    HTML,
    MARKDOWN,
    MentionTarget,
    Rendered,
    link_content,
    markdown_to_html,
    safe_markup,
    sanitize_html,
    sanitize_text,
)
from pleromad.domain.formatting import text_to_html
from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.test_accounts import answer, bearer, make_user

# The allow-list, written out here rather than imported, so that a change to
# the policy has to change the test too.
ELEMENTS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "i", "li", "ol", "p", "pre",
    "s", "span", "strong", "u", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "class", "rel", "target"},
    "abbr": {"title"},
    "span": {"class"},
}
CLASSES = {"h-card", "u-url", "mention", "hashtag", "invisible", "ellipsis"}
RELS = {"nofollow", "noopener", "noreferrer"}
SCHEMES = {
    "http", "https", "mailto", "xmpp", "magnet", "gemini", "dat", "dweb", "ipfs", "ipns",
    "ssb", "gopher",
}  # fmt: skip
LINK = 'target="_blank" rel="nofollow noopener noreferrer"'

# Known filter evasions (after OWASP's cheat sheet and the usual suspects),
# each a whole status.
XSS_VECTORS = [
    # script elements
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<script/xss src=https://xss.example/xss.js></script>",
    "<<script>alert(1);//<</script>",
    "<script>alert(1)//",
    "<scr<script>ipt>alert(1)</script>",
    '<script a=">" src="https://xss.example/xss.js"></script>',
    "<script>/*</script><script>*/alert(1)</script>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    '<img """><script>alert(1)</script>">',
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "<body onload=alert(1)>",
    "<b onmouseover=alert(1)>hover</b>",
    "<p/onclick=alert(1)>x</p>",
    "<a href=https://ok.example/ onfocus=alert(1) autofocus>x</a>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)>",
    "<div onclick=alert(1)>x</div>",
    # javascript:, vbscript:, data: and friends, obfuscated
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" &#14;  javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav\tascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="jav&#x0D;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    '&#0000112&#0000116&#0000058alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    "<a href=`javascript:alert(1)`>x</a>",
    '<a href="\\u006Aavascript:alert(1)">x</a>',
    '<a href="%6Aavascript:alert(1)">x</a>',
    '<a href="ｊａｖａｓｃｒｉｐｔ:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="//xss.example/">x</a>',
    '<a href="/relative">x</a>',
    '<a href="\\\\xss.example">x</a>',
    # svg and math
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    # style and expression()
    '<div style="width: expression(alert(1))">x</div>',
    '<span style="background:url(javascript:alert(1))">x</span>',
    "<style>@import 'https://xss.example/x.css';</style>",
    "<link rel=stylesheet href=https://xss.example/x.css>",
    '<p style="behavior: url(xss.htc)">x</p>',
    # quotes and attribute breaking
    "<p title='x\" onmouseover=\"alert(1)'>t</p>",
    '<a title="a" href="https://ok.example/"" onclick="alert(1)">x</a>',
    '<a href="https://ok.example/?"><script>alert(1)</script>">x</a>',
    '<a href="https://ok.example/"onmouseover=alert(1)>x</a>',
    '<img src="x` `<script>alert(1)</script>"` `>',
    "<a href='https://ok.example/' title='\"><script>alert(1)</script>'>x</a>",
    # comments, CDATA, declarations
    "<!-- <script>alert(1)</script> -->",
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<!--><script>alert(1)</script>-->",
    "<? echo('<script>alert(1)</script>'); ?>",
    "<!DOCTYPE html><html><head><title>x</title></head><body>y</body></html>",
    # meta refresh, base, frames, objects, forms
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<frameset><frame src="javascript:alert(1)"></frameset>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<isindex action="javascript:alert(1)" type=image>',
    # unclosed and malformed
    '<a href="https://ok.example/">unclosed <b>bold <i>italic',
    "<img src=x onerror=alert(1)",
    "<a href='javascript:alert(1)'",
    "</p><script>alert(1)</script><p>",
    "<<b>>",
    '<a href="https://ok.example/" class="u-url mention" data-user="1" style="x">forged</a>',
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<textarea><script>alert(1)</script></textarea>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)</script>",
    # Markdown's own ways to a link
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x" onerror="alert(1)](https://ok.example/i.png)',
    '[x](https://ok.example/"onmouseover="alert(1))',
    "[x]: javascript:alert(1)\n\n[x]",
    "<javascript:alert(1)>",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
]


def rendered(text: str, content_type: str, **mentions: MentionTarget) -> Rendered:
    """``text`` rendered as a status of ``https://ex.org`` that may mention
    ``mentions``."""
    return link_content(
        safe_markup(text, content_type), base_url="https://ex.org", mentions=mentions
    )


class _Inspector(HTMLParser):
    """What a browser would see in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"declaration {data!r}")


def inspect(markup: str) -> _Inspector:
    inspector = _Inspector()
    inspector.feed(markup)
    inspector.close()
    return inspector


def assert_inert(markup: str) -> None:
    """Every element, attribute, class and URL of ``markup`` is on the
    allow-list, and there is nothing else (no comment, declaration or
    processing instruction): nothing in it can run or restyle the page."""
    found = inspect(markup)
    assert not found.other, (found.other, markup)
    for tag, attrs in found.elements:
        assert tag in ELEMENTS, (tag, markup)
        assert set(attrs) <= ATTRIBUTES.get(tag, set()), (tag, attrs, markup)
        assert set((attrs.get("class") or "").split()) <= CLASSES, markup
        assert set((attrs.get("rel") or "").split()) <= RELS, markup
        assert attrs.get("target", "_blank") == "_blank", markup
        if "href" in attrs:
            # As a browser reads a scheme: whitespace and controls ignored.
            href = re.sub(r"[\x00-\x20\x7f]", "", attrs["href"] or "")
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", href)
            assert scheme is not None and scheme.group(1).lower() in SCHEMES, markup


def assert_text_only(markup: str) -> None:
    """``markup`` is text: no element and nothing else a parser would act on."""
    found = inspect(markup)
    assert not found.elements and not found.other, markup


# -- sanitize_html -------------------------------------------------------------------


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_sanitize_html_leaves_nothing_dangerous(vector: str) -> None:
    """Each known vector comes out with only allowed elements, attributes,
    classes and link schemes; the result is stable (cleaning it again
    changes nothing, so no browser re-parse can find something new)."""
    out = sanitize_html(vector)
    assert_inert(out)
    assert sanitize_html(out) == out


@pytest.mark.parametrize("vector", XSS_VECTORS)
@pytest.mark.parametrize("content_type", [HTML, MARKDOWN])
def test_local_html_and_markdown_leave_nothing_dangerous(vector: str, content_type: str) -> None:
    """A local status in HTML or Markdown made of a vector renders inert,
    with no ``data-`` attribute but those of our own mentions (none here)."""
    assert_inert(rendered(vector, content_type).html)


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_spoilers_keep_only_text_and_bios_only_links(vector: str) -> None:
    """A content warning made of a vector keeps no element at all; a bio
    (plain text) made of one is inert."""
    assert_text_only(sanitize_text(vector))
    assert_inert(text_to_html(vector))


def test_links_carry_the_policy() -> None:
    """Links keep ``href`` (Mastodon's schemes and mailto) and ``title``, and
    get ``target="_blank"`` and ``rel="nofollow noopener noreferrer"``
    whatever they said; relative and unknown schemes lose the ``href``."""
    for url in (
        "https://ok.example/a?b=1&amp;c=2",
        "http://ok.example/",
        "mailto:bob@ok.example",
        "xmpp:bob@ok.example",
        "magnet:?xt=urn:btih:abc",
        "gemini://ok.example/",
        "dat://ok.example/",
        "ipfs://bafy",
        "gopher://ok.example/",
    ):
        assert (
            sanitize_html(f'<a href="{url}" rel="opener" target="_top" title="t">x</a>')
            == f'<a href="{url}" title="t" {LINK}>x</a>'
        )
    for url in ("/relative", "//xss.example/", "ftp://ok.example/", "file:///etc/passwd"):
        assert sanitize_html(f'<a href="{url}">x</a>') == f"<a {LINK}>x</a>"


def test_only_meaningful_classes_stay() -> None:
    """Mentions, hashtags, h-cards and Mastodon's shortened-link spans keep
    their classes; other class names go, and an empty class attribute too."""
    assert sanitize_html(
        '<span class="h-card vcard"><a class="u-url mention url" href="https://m.example/@bob">'
        '@<span class="nick">bob</span></a></span>'
    ) == (
        f'<span class="h-card"><a class="u-url mention" href="https://m.example/@bob" {LINK}>'
        "@<span>bob</span></a></span>"
    )
    assert sanitize_html('<span class="invisible">https://</span><b class="x">y</b>') == (
        '<span class="invisible">https://</span><b>y</b>'
    )


def test_a_mastodon_note_keeps_its_meaning() -> None:
    """Content as Mastodon sends it (mention, hashtag, shortened link) keeps
    every class a client needs; ``translate`` and Mastodon's own ``rel`` go."""
    note = (
        '<p><span class="h-card" translate="no"><a href="https://m.example/@bob"'
        ' class="u-url mention">@<span>bob</span></a></span> hi <a href="https://m.example/tags/cofe"'
        ' class="mention hashtag" rel="tag">#<span>cofe</span></a> <a href="https://ok.example/a/b"'
        ' target="_blank" rel="nofollow noopener noreferrer" translate="no"><span class="invisible">'
        'https://</span><span class="ellipsis">ok.example/a</span><span class="invisible">/b</span>'
        "</a></p><p>second<br>line</p>"
    )
    assert sanitize_html(note) == (
        f'<p><span class="h-card"><a href="https://m.example/@bob" class="u-url mention" {LINK}>'
        f'@<span>bob</span></a></span> hi <a href="https://m.example/tags/cofe" class="mention'
        f' hashtag" {LINK}>#<span>cofe</span></a> <a href="https://ok.example/a/b" {LINK}>'
        '<span class="invisible">https://</span><span class="ellipsis">ok.example/a</span>'
        '<span class="invisible">/b</span></a></p><p>second<br>line</p>'
    )


def test_unlisted_elements_are_unwrapped() -> None:
    """An element off the list goes but its text stays (headings, tables,
    divs, images' neighbours); a dropped element's content goes with it."""
    assert sanitize_html("<h1>Title</h1><div><table><tr><td>cell</td></tr></table></div>") == (
        "Titlecell"
    )
    assert sanitize_html("a<img src=https://ok.example/i.png>b<script>c</script>d") == "abd"


# -- Markdown -----------------------------------------------------------------------


def test_markdown_renders_compactly_what_pleroma_keeps() -> None:
    """No newlines between elements; headings are strong paragraphs;
    ``~~`` is ``<del>``; code blocks have no class or final newline; an
    image is a link to it; tables and typography stay text."""
    assert markdown_to_html("# Title\n\npara\n\n- a\n- b\n\n> q") == (
        "<p><strong>Title</strong></p><p>para</p><ul><li>a</li><li>b</li></ul>"
        "<blockquote><p>q</p></blockquote>"
    )
    assert markdown_to_html("~~x~~") == "<p><del>x</del></p>"
    assert markdown_to_html("```python\nx = 1\n```") == "<pre><code>x = 1</code></pre>"
    assert markdown_to_html("    indented") == "<pre><code>indented</code></pre>"
    assert markdown_to_html('![a *cat*](https://ok.example/c.png "T")') == (
        '<p><a href="https://ok.example/c.png" title="T">a <em>cat</em></a></p>'
    )
    assert markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |") == (
        "<p>| a | b |<br>|---|---|<br>| 1 | 2 |</p>"
    )
    assert markdown_to_html('"quotes" -- (c)') == "<p>&quot;quotes&quot; -- (c)</p>"


# -- through the API ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_every_vector_posted_renders_inert(rt: Runtime, client: Client) -> None:
    """Each vector posted as an HTML and as a Markdown status, with itself
    as content warning: ``content`` is inert and ``spoiler_text`` is text,
    as answered and as read back."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    answered = {}
    for vector in XSS_VECTORS:
        for content_type in (HTML, MARKDOWN):
            code, posted = await answer(
                await client.post(
                    "/api/v1/statuses",
                    json={"status": vector, "content_type": content_type, "spoiler_text": vector},
                    headers=headers,
                )
            )
            assert code == 200, (vector, posted)
            answered[posted["id"]] = posted
    read: list[dict[str, Any]] = []
    page = f"/api/v1/accounts/{alice.id}/statuses?limit=40"
    while len(read) < len(answered):
        code, statuses = await answer(await client.get(page))
        assert code == 200 and statuses
        read.extend(statuses)
        page = f"/api/v1/accounts/{alice.id}/statuses?limit=40&max_id={statuses[-1]['id']}"
    assert len(read) == len(answered)
    for status in read:
        assert status["content"] == answered[status["id"]]["content"]
        assert status["spoiler_text"] == answered[status["id"]]["spoiler_text"]
        assert_inert(status["content"])
        assert_text_only(status["spoiler_text"])
