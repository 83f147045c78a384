"""Markdown to sanitized HTML: nothing executable survives, whatever the input."""

from __future__ import annotations

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.content import Block
from syndicate.render import body_html, inline_html, inline_text, markup_signature

SAFE_SCHEMES = ("http://", "https://", "mailto:")


def assert_safe(html: str) -> None:
    """Parse ``html`` as a browser would and find nothing executable in it."""
    if not html.strip():
        return
    for root in lxml.html.fragments_fromstring(f"<div>{html}</div>"):
        if isinstance(root, str):
            continue
        for element in root.iter():
            assert element.tag not in {"script", "iframe", "img", "style", "svg", "object"}, html
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), html
                if name in {"href", "src"}:
                    assert value.strip().lower().startswith(SAFE_SCHEMES), html


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
    assert_safe(html)
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
    assert_safe(html)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80))
def test_fast_path_renders_exactly_like_markdown_it(text: str) -> None:
    """Literal text skips the parser; the bytes must be the same as the parser's."""
    from syndicate.render import _MARKDOWN, _render_inline

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

    from syndicate import render

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
