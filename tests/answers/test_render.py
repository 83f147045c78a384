"""Markdown to sanitized HTML: nothing executable survives, whatever the input."""

from __future__ import annotations

import re

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.answers.content import Block
from syndicate.answers.render import (
    BLOCK_TAGS,
    INLINE_TAGS,
    body_html,
    inline_html,
    inline_text,
    markup_signature,
)


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<svg onload=alert(1)>",
        "<<script>script>alert(1)<</script>/script>",
    ],
)
def test_hostile_markup_never_reaches_output(hostile: str) -> None:
    html = inline_html(f"before {hostile} after")
    assert_inert(html)
    assert "before" in html and "after" in html


def test_ordinary_markdown_survives() -> None:
    html = inline_html("See *this* and **that**, `code` and [the page](https://example.org/a?b=1&c=2).")
    assert "<em>this</em>" in html
    assert "<strong>that</strong>" in html
    assert "<code>code</code>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2">the page</a>' in html


def test_body_groups_list_items_and_headings() -> None:
    blocks = [
        Block("paragraph", "Lead.", 1, ""),
        Block("heading", "Causes", 3, "Causes", level=2),
        Block("item", "one", 5, "Causes", group=1),
        Block("item", "two", 6, "Causes", group=1),
        Block("item", "first", 8, "Causes", group=2, ordered=True),
        Block("paragraph", "After.", 10, "Causes"),
    ]
    html = body_html((b, b.text) for b in blocks)
    assert html == (
        "<p>Lead.</p>\n<h2>Causes</h2>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        "<ol>\n<li>first</li>\n</ol>\n<p>After.</p>"
    )


def test_plain_text_drops_markup_and_targets() -> None:
    assert inline_text("A *b* [c](https://x.org) `d`") == "A b c d"


def test_markup_signature_sees_links_and_emphasis() -> None:
    assert markup_signature("*a* [b](https://x.org)") == ("em", "link:https://x.org")
    assert markup_signature("a b") == ()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' :ajvscriptonerrlimgahref()[]*`!&;#x0123456789"))
               | st.characters(), max_size=120))
def test_no_script_handler_or_javascript_url_ever_survives(text: str) -> None:
    html = body_html([(Block("paragraph", "x", 1, ""), text)])
    assert_inert(html)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80))
def test_fast_path_renders_exactly_like_markdown_it(text: str) -> None:
    """Literal text skips the parser; the bytes must be the same as the parser's."""
    from syndicate.answers.render import _MARKDOWN, _render_inline

    folded = " ".join(text.split())
    assert _render_inline(folded) == _MARKDOWN.renderInline(folded)
    assert inline_text(folded) == "".join(
        child.content
        for token in _MARKDOWN.parseInline(folded)
        for child in token.children or ()
        if child.type in {"text", "code_inline"}
    ) or not folded


_INLINE = st.text(alphabet=st.sampled_from(list("ab *_`[]()!<>&\\#:/.\n\u00e9x1")), max_size=40)


@settings(max_examples=300)
@given(_INLINE)
def test_memoized_parse_matches_markdown_it_directly(text: str) -> None:
    """One parse serves signature, HTML and plain text: each equals markdown-it on its own."""
    from markdown_it import MarkdownIt

    from syndicate.answers import render

    fresh = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    if render._MARKUP_CHARS.search(text) is None:
        return
    assert render._render_inline(text) == fresh.renderInline(text)
    signature: list[str] = []
    for token in fresh.parseInline(text):
        for child in token.children or ():
            if child.type == "link_open":
                signature.append(f"link:{child.attrGet('href')}")
            elif child.type == "image":
                signature.append(f"image:{child.attrGet('src')}")
            elif child.type in {"em_open", "strong_open", "code_inline", "hardbreak"}:
                signature.append(child.type.removesuffix("_open"))
    assert markup_signature(text) == tuple(sorted(signature))
    plain: list[str] = []
    for token in fresh.parseInline(text):
        for child in token.children or ():
            if child.type in {"text", "code_inline"}:
                plain.append(child.content)
            elif child.type in {"softbreak", "hardbreak"}:
                plain.append(" ")
    assert inline_text(text) == "".join(plain)


# -- property: the sanitizer's output, parsed as a browser would, holds nothing executable ----

_HOSTILE_PIECES = [
    "<script>", "</script>", "<SCRIPT SRC=//x.example/a.js>", "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>", "<a href=javascript:alert(1)>", "<iframe srcdoc='<script>'>",
    "<math><mi xlink:href=javascript:x>", "<style>", "<object data=x>", "<embed src=x>",
    "<form action=javascript:x><button formaction=javascript:x>", "<base href=javascript:/>",
    "<meta http-equiv=refresh content='0;url=javascript:x'>", "<body onload=x>",
    "<a href='x' onmouseover='x'>", "<p style='background:url(javascript:x)'>",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "java\nscript:", " \x01javascript:",
    "&#106;avascript:", "&#x6A;avascript:", "javascript&colon;", "vbscript:", "data:text/html,",
    "data:image/svg+xml;base64,PHN2Zz4=", "%6Aavascript:", "jav&#x09;ascript:",
    "[x](", "](", ")", "![i](", "<", ">", "<javascript:alert(1)>", "<vbscript:x>",
    "<data:text/html,x>", "[a](<javascript:x>)", '[a](javascript:x "t")', "[a][b]",
    "\n\n[b]: javascript:x\n", "`", "*", "_", "\\", "&", "&amp;", '"', "'", "=", " ", "\n",
    "alert(1)", "on", "onerror=", "href=", "<!--", "-->", "<![CDATA[", "]]>", "\u2028", "é",
]
_HOSTILE = st.lists(st.sampled_from(_HOSTILE_PIECES) | st.text(max_size=6), max_size=25).map("".join)
_ALLOWED_TAGS = INLINE_TAGS | BLOCK_TAGS | {"div"}
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads in ``url`` (WHATWG URL: C0 and spaces trimmed, tabs and
    newlines removed anywhere), or ``None`` for a relative URL."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def assert_inert(html: str) -> None:
    """Only allowed elements; only ``href``/``title`` on links; only http(s)/mailto URLs."""
    if not html.strip():
        return
    for root in lxml.html.fragments_fromstring(f"<div>{html}</div>"):
        if isinstance(root, str):
            continue
        for element in root.iter():
            if not isinstance(element.tag, str):  # comments, processing instructions
                raise AssertionError(f"non-element node survived: {html!r}")
            assert element.tag in _ALLOWED_TAGS, (element.tag, html)
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), html
                assert element.tag == "a" and name in {"href", "title"}, (element.tag, name, html)
                if name == "href":
                    assert browser_scheme(value) in {None, "http", "https", "mailto"}, (value, html)


@settings(max_examples=300, deadline=None)
@given(_HOSTILE)
def test_inline_html_never_lets_anything_executable_through(text: str) -> None:
    """No script, handler, style, frame or javascript:/vbscript:/data: URL, whatever the text."""
    assert_inert(inline_html(text))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["heading", "paragraph", "item"]), st.integers(1, 3),
                          st.booleans(), _HOSTILE), max_size=6))
def test_body_html_never_lets_anything_executable_through(
    parts: list[tuple[str, int, bool, str]],
) -> None:
    """Whole bodies (headings, paragraphs, lists) assembled from hostile translations."""
    blocks = [(Block(kind, "x", n, "", level=2 if kind == "heading" else 0,  # type: ignore[arg-type]
                     group=group if kind == "item" else 0, ordered=ordered), text)
              for n, (kind, group, ordered, text) in enumerate(parts, start=1)]
    html = body_html(blocks)
    assert_inert(html)
    assert "<script" not in html.lower()


@pytest.mark.parametrize("url", ["javascript:x", " JAVAscript:x", "java\tscript:x", "\x01javascript:x",
                                 "vbscript:x", "data:text/html,x"])
def test_browser_scheme_reads_what_a_browser_reads(url: str) -> None:
    """The test's own scheme reader is not fooled by the usual disguises."""
    assert browser_scheme(url) in {"javascript", "vbscript", "data"}


# -- property: skipping the sanitizer never changes a byte ----------------------------------

_TRICKY_PIECES = [
    "*a*", "**b**", "_c_", "`code`", "`a<b>&c`", "[l](https://x.org/a?b=1&c=2)", "![i](x.png)",
    "[l](javascript:x)", "<b>raw</b>", "<script>x</script>", "&amp;", "&copy;", "&nbsp;", "&#0;",
    "&quot;", '"', "'", "\u00a0", "\r", "\x85", "\x0b", "\x7f", "\ufffe", "\ufdd0", "\U0001fffe",
    "\\*", "\\", "  \n", "\n", " ", "a", "é", "مرحبا", "שלום", "\u200f", "\u202e", "中文",
    "<", ">", "&", "<https://x.org>", "<a@b.org>", "***x***", "*a **b** c*", "`` ` ``", "\t",
]
_TRICKY = st.lists(st.sampled_from(_TRICKY_PIECES) | st.text(max_size=4), max_size=12).map("".join)


def _reference_body_html(pairs: list[tuple[Block, str]]) -> str:
    """The body as it was always made: every block's inline HTML (markdown-it's, literal text
    without the parser: see the test above) in the body's structure, then the sanitizer over
    the whole."""
    from syndicate.answers.render import _render_inline, body_structure, sanitize

    return sanitize(body_structure([(block, _render_inline(text)) for block, text in pairs]))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["heading", "paragraph", "item"]), st.integers(1, 3),
                          st.booleans(), st.integers(1, 7), _TRICKY), max_size=6))
def test_body_html_is_byte_identical_to_sanitizing_everything(
    parts: list[tuple[str, int, bool, int, str]],
) -> None:
    """Bodies whose inline HTML the sanitizer would return unchanged skip it: the bytes are
    those of markdown-it plus the sanitizer, whatever the text (controls, no-break spaces,
    quotes, entities, links, RTL marks)."""
    pairs = [(Block(kind, "x", n, "", level=level if kind == "heading" else 0,  # type: ignore[arg-type]
                    group=group if kind == "item" else 0, ordered=ordered), text)
             for n, (kind, group, ordered, level, text) in enumerate(parts, start=1)]
    assert body_html(pairs) == _reference_body_html(pairs)


@settings(max_examples=500, deadline=None)
@given(_TRICKY)
def test_inline_html_is_byte_identical_to_sanitizing(text: str) -> None:
    from syndicate.answers.render import _render_inline, sanitize

    assert inline_html(text) == sanitize(_render_inline(text))


@pytest.mark.parametrize("text", [
    "plain", 'a "quote"', "no\u00a0break", "cr\rhere", "del\x7f", "*em* and **strong** `c<d>`",
    "[link](https://x.org)", "line\\\nbreak", "&copy; &amp; &lt;", "\u05e9\u05dc\u05d5\u05dd *\u05d0*",
    "![img](https://x.org/i.png)", "<em>raw</em>", "nonchar \ufdd0 \U0010fffe",
])
def test_every_character_the_sanitizer_rewrites_is_caught(text: str) -> None:
    """Table: the shortcut is taken only where the sanitizer returns the HTML unchanged."""
    from syndicate.answers.render import _render_clean, _render_inline, sanitize

    html, unchanged = _render_clean(text)
    if unchanged:
        assert sanitize(_render_inline(text)) == html == sanitize(html)
    else:
        assert html == _render_inline(text)
    assert body_html([(Block("paragraph", "x", 1, ""), text)]) == sanitize(f"<p>{html}</p>")


def test_the_shortcut_is_taken_for_ordinary_text() -> None:
    from syndicate.answers.render import _render_clean

    assert _render_clean("Plain words, numbers 1-2 and RTL \u05e9\u05dc\u05d5\u05dd.")[1]
    assert _render_clean("*em*, **strong** and `a < b & c`")[1]
    assert not _render_clean("[link](https://x.org)")[1]
    assert _render_clean('say "this" and *"that"*') == ('say "this" and <em>"that"</em>', True)
    assert not _render_clean("no\u00a0break")[1]
