"""Markdown as status HTML, with the rules Pleroma's formatter keeps.

Only :func:`pleromad.domain.content.markdown_to_html` imports this module,
when a status written in Markdown is rendered (see docs/memory.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict


class _StatusRenderer(RendererHTML):
    """markdown-it's HTML renderer, writing what a status wants: nothing
    between elements (Pleroma's compact output), a line break as ``<br>``,
    a heading as a strong paragraph (as Mastodon shows them; Pleroma would
    drop the element), ``~~strike~~`` as ``<del>``, code blocks without a
    language class or final newline, and an image as a link to it (no
    inline images without a media proxy)."""

    def renderToken(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return super().renderToken(tokens, idx, options, env).strip("\n")

    def heading_open(self, *_: object) -> str:
        return "<p><strong>"

    def heading_close(self, *_: object) -> str:
        return "</strong></p>"

    def s_open(self, *_: object) -> str:
        return "<del>"

    def s_close(self, *_: object) -> str:
        return "</del>"

    def softbreak(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return "<br>"

    hardbreak = softbreak

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "<pre><code>" + escapeHtml(tokens[idx].content.removesuffix("\n")) + "</code></pre>"

    code_block = fence

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        href = escapeHtml(str(token.attrGet("src") or ""))
        title = token.attrGet("title")
        title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
        label = self.renderInline(token.children or [], options, env) or href
        return f'<a href="{href}"{title_attr}>{label}</a>'


# The rules whose output Pleroma keeps: no tables, no typographic
# replacements, no linkify (the linker does that, for mentions and tags too).
_MARKDOWN = MarkdownIt(
    "zero", {"html": True, "breaks": True}, renderer_cls=_StatusRenderer
).enable(
    [
        "code", "fence", "blockquote", "hr", "list", "reference", "html_block", "heading",
        "lheading", "newline", "escape", "backticks", "strikethrough", "emphasis", "link",
        "image", "autolink", "html_inline", "entity",
    ]
)  # fmt: skip


def to_html(text: str) -> str:
    """``text`` rendered by :data:`_MARKDOWN` (see ``markdown_to_html``)."""
    html: str = _MARKDOWN.render(text)
    return html
