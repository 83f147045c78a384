"""Markdown to safe HTML.

Answers and their translations are inline Markdown per block. Raw HTML in them is never passed
through: markdown-it runs with HTML disabled (so ``<script>`` becomes text) and its output is
then cleaned by nh3 (the Rust *ammonia* sanitizer) to a short allow-list of tags, attributes
and URL schemes. Translators are semi-trusted; a ``javascript:`` link or an ``onerror=``
attribute in a catalog never reaches a feed.

Pure: strings in, strings out.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable

import nh3
from markdown_it import MarkdownIt

from .content import Block

INLINE_TAGS = frozenset({"a", "em", "strong", "code", "br", "sub", "sup"})
BLOCK_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_CLEANER = nh3.Cleaner(
    tags=set(INLINE_TAGS | BLOCK_TAGS),
    attributes={"a": {"href", "title"}},
    url_schemes=set(URL_SCHEMES),
    link_rel=None,
    strip_comments=True,
)

_MARKUP_CHARS = re.compile(r"[\\`*_\[\]!<>&]")
"""Characters that can start inline Markdown syntax or an HTML entity. Text without any of
them is literal, so it skips the Markdown parser: most paragraphs of an answer are plain."""

XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
"""Characters that may not appear in an XML 1.0 document (or that are discouraged there)."""


_UNCLEAN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\xa0\ud800-\udfff\ufffe\uffff<>&]"
)
"""Characters the sanitizer would drop (:data:`XML_INVALID`) or rewrite (carriage return;
no-break space, as ``&nbsp;``) in a fragment's text, and those that start markup (``<``,
``&``, ``>``)."""
_CLEAN_MARKUP = re.compile(r"</?(?:em|strong|code)>|&(?:amp|lt|gt);")
"""Markup the sanitizer gives back unchanged: emphasis, strong and code elements (markdown-it
always nests and closes them) and the three escapes it writes the same way. Links, images
and line breaks (``<br />``, written ``<br>`` by the sanitizer) still go through it."""


def sanitize(fragment: str) -> str:
    """Clean an HTML fragment down to the allowed tags, attributes and URL schemes.

    Characters no XML document may carry (C0 controls, lone surrogates) are dropped first:
    the checks refuse them upstream with a located error; this is the last line of defence.
    """
    return str(_CLEANER.clean(XML_INVALID.sub("", fragment)))


def _render_inline(text: str) -> str:
    """markdown-it's inline HTML for ``text``, without the parser when the text is literal."""
    if _MARKUP_CHARS.search(text) is None:
        return text.replace('"', "&quot;")
    return _parsed(text)[1]


def _render_clean(text: str) -> tuple[str, bool]:
    """The inline HTML of ``text``, and whether it is already as the sanitizer would leave it.

    When it is (ordinary text, emphasis, strong, code: see :data:`_UNCLEAN_TEXT` and
    :data:`_CLEAN_MARKUP`), it is given the way the sanitizer writes it: ``"`` where
    markdown-it writes ``&quot;``. Otherwise it is markdown-it's HTML, to be sanitized.
    """
    if _MARKUP_CHARS.search(text) is None:
        if _UNCLEAN_TEXT.search(text) is None:
            return text, True
        return text.replace('"', "&quot;"), False
    return _parsed_clean(text)


@functools.lru_cache(maxsize=1 << 16)
def _parsed_clean(text: str) -> tuple[str, bool]:
    html = _parsed(text)[1]
    # Every '&' markdown-it writes starts one of its escapes, so this finds only '&quot;'.
    candidate = html.replace("&quot;", '"')
    if _UNCLEAN_TEXT.search(_CLEAN_MARKUP.sub("", candidate)) is None:
        return candidate, True
    return html, False


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> tuple[tuple[str, ...], str, str]:
    """``(markup signature, inline HTML, plain text)`` of inline Markdown, from one parse.

    The catalog checks take the signature of every translation and localization renders the
    same text (and its plain text, for titles and summaries) moments later: one parse serves
    all three. Pure, so it is memoized (bounded).
    """
    env: dict[str, object] = {}
    tokens = _MARKDOWN.parseInline(text, env)
    signature: list[str] = []
    plain: list[str] = []
    for token in tokens:
        for child in token.children or ():
            if child.type == "link_open":
                signature.append(f"link:{child.attrGet('href')}")
            elif child.type == "image":
                signature.append(f"image:{child.attrGet('src')}")
            elif child.type in {"em_open", "strong_open", "code_inline", "hardbreak"}:
                signature.append(child.type.removesuffix("_open"))
            if child.type in {"text", "code_inline"}:
                plain.append(child.content)
            elif child.type in {"softbreak", "hardbreak"}:
                plain.append(" ")
    html = str(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env))
    return tuple(sorted(signature)), html, "".join(plain)


def inline_html(text: str) -> str:
    """Render one block's inline Markdown to sanitized HTML."""
    html, unchanged = _render_clean(text)
    return html if unchanged else sanitize(html)


def inline_text(text: str) -> str:
    """The plain text of one block's inline Markdown (markup and link targets dropped)."""
    if _MARKUP_CHARS.search(text) is None:
        return text
    return _parsed(text)[2]


def markup_signature(text: str) -> tuple[str, ...]:
    """The markup of inline Markdown, in order: emphasis, strong, code, links and targets.

    Used by the catalog checks: a translation must carry the same signature as its source
    (words may move, markup may not appear, vanish or change its targets).
    """
    if _MARKUP_CHARS.search(text) is None:
        return ()
    return _parsed(text)[0]


def body_html(blocks: Iterable[tuple[Block, str]]) -> str:
    """Assemble the HTML of a body from ``(block, inline Markdown)`` pairs.

    The block gives the structure (heading level, list grouping), the text is the source or
    its translation. The result is sanitized once, as a whole, unless every block's inline
    HTML is of the kind the sanitizer returns unchanged (:func:`_render_clean`): the
    structure around it is this function's own, so the sanitizer would return it all as is.
    """
    clean = True
    rendered: list[tuple[Block, str]] = []
    for block, text in blocks:
        inline, unchanged = _render_clean(text)
        clean = clean and unchanged
        rendered.append((block, inline))
    # A body mixing both forms is sanitized whole: the sanitizer reads '"' and '&quot;' in
    # text alike.
    html = body_structure(rendered)
    return html if clean else sanitize(html)


def body_structure(blocks: Iterable[tuple[Block, str]]) -> str:
    """The structure of a body around each block's inline HTML (not sanitized): headings,
    paragraphs, and list items grouped into ``ul`` or ``ol``."""
    out: list[str] = []
    open_group = 0
    open_tag = ""
    for block, inline in blocks:
        if block.kind == "item":
            if block.group != open_group:
                if open_tag:
                    out.append(f"</{open_tag}>")
                open_tag = "ol" if block.ordered else "ul"
                open_group = block.group
                out.append(f"<{open_tag}>")
            out.append(f"<li>{inline}</li>")
            continue
        if open_tag:
            out.append(f"</{open_tag}>")
            open_tag, open_group = "", 0
        if block.kind == "heading":
            level = min(max(block.level, 2), 6)
            out.append(f"<h{level}>{inline}</h{level}>")
        else:
            out.append(f"<p>{inline}</p>")
    if open_tag:
        out.append(f"</{open_tag}>")
    return "\n".join(out)


def escape(text: str) -> str:
    """Escape plain text for HTML."""
    return html.escape(text, quote=True)
