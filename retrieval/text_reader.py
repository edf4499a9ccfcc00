"""Plain text and Markdown files → one article each.

Plain text: the title is the first non-empty line, paragraphs are separated by blank lines, lines
inside a paragraph are joined. Scraped pages add two things around the story: a site or section
name as the very first line, and an ``Original URL: …`` line that gives the source. The site
line is recognised by its shape (a one- or two-word line standing alone, followed by a
one-line headline that is not a sentence); BBC headlines are never that short, so their first
line stays the title.

Markdown is the same after its syntax is removed: front matter gives title, URL and date, else
a leading heading is the title; heading marks, emphasis, links and list markers are stripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from retrieval.cleaning import (
    collapse_whitespace,
    drop_repeated_lines,
    finish_paragraphs,
    split_paragraphs,
)
from retrieval.documents import Article

MAX_TITLE_CHARS = 200  # a longer first line is a paragraph, not a headline
_SITE_LINE_MAX_WORDS = 2
_SITE_LINE_MAX_CHARS = 40

_URL_LINE_RE = re.compile(
    r"^[^\S\n]*(?:original |source )?url[^\S\n]*:[^\S\n]*(\S+)[^\S\n]*$", re.IGNORECASE | re.M
)
_SENTENCE_END_RE = re.compile(r"[.!;:,][\"'”’)\]]*$")
_SENTENCE_BREAK_RE = re.compile(r"[.!?][\"'”’)\]]*\s+[\"'“‘(\[]*[A-Z0-9]")  # "… scene. Photo: AP"


def read_plain_text(text: str, doc_id: str, fallback_title: str) -> Article | None:
    """The article in a cleaned plain-text file; None when it has no text at all."""
    return _read_text(text, doc_id, fallback_title)


def _read_text(
    text: str,
    doc_id: str,
    fallback_title: str,
    inline: Callable[[str], str] | None = None,
    known_title: str | None = None,
    url: str | None = None,
    date: str | None = None,
) -> Article | None:
    # The substring test spares a line-anchored regex scan of every file without a URL line.
    urls = _URL_LINE_RE.findall(text) if "url" in text or "URL" in text or "Url" in text else []
    if urls:
        url = url or urls[0]
        text = _URL_LINE_RE.sub("", text)
    lines = text.split("\n")
    title = known_title
    body_start = 0
    if title is None:
        title_index = _title_line_index(lines)
        if title_index is not None:
            line = lines[title_index]
            candidate = inline(line) if inline else collapse_whitespace(line)
            if candidate and len(candidate) <= MAX_TITLE_CHARS:
                title, body_start = candidate, title_index + 1
    body = drop_repeated_lines("\n".join(lines[body_start:]))
    raw_paragraphs = split_paragraphs(body)
    if inline:
        raw_paragraphs = [inline(p) for p in raw_paragraphs]
    paragraphs = finish_paragraphs(raw_paragraphs, title or "")
    if not paragraphs and title and known_title is None:
        # A one-line note: its only line is its text, not a headline over nothing.
        paragraphs = finish_paragraphs([title])
        title = None
    if not paragraphs:
        return None
    return Article(doc_id, title or fallback_title, url, date, paragraphs)


def _title_line_index(lines: list[str]) -> int | None:
    """Index of the headline: the first non-empty line, or the second block when the first is
    a site/section name standing alone over a one-line headline."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return None
    first = filled[0]
    if len(filled) < 3:
        return first
    second, third = filled[1], filled[2]
    site = lines[first].strip()
    headline = lines[second].strip()
    stands_alone = second > first + 1  # a blank line between site name and headline
    headline_alone = third > second + 1  # and between headline and story
    if (
        stands_alone
        and headline_alone
        and len(site.split()) <= _SITE_LINE_MAX_WORDS
        and len(site) <= _SITE_LINE_MAX_CHARS
        and not _SENTENCE_END_RE.search(site)
        and len(headline) <= MAX_TITLE_CHARS
        and len(headline.split()) > len(site.split())
        and not _SENTENCE_END_RE.search(headline)
        and not _SENTENCE_BREAK_RE.search(headline)
    ):
        return second
    return first


# --- Markdown -------------------------------------------------------------------------------

_FRONT_MATTER_RE = re.compile(r"\A---[^\S\n]*\n(.*?)\n(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.S)
_FRONT_MATTER_FIELD_RE = re.compile(r"^([A-Za-z_][\w-]*)[^\S\n]*:[^\S\n]*(.*?)[^\S\n]*$", re.M)
_FRONT_MATTER_KEYS = {
    "title": ("title", "headline"),
    "url": ("url", "link", "canonical_url", "canonical", "source_url"),
    "date": ("date", "published", "published_at", "pubdate"),
}

_ATX_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE_RE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_THEMATIC_BREAK_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BLOCKQUOTE_RE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_LIST_ITEM_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_REFERENCE_DEFINITION_RE = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_CODE_FENCE_RE = re.compile(r"^ {0,3}(?:```|~~~)")

_INLINE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images: their alt text is not the story
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"<br\s*/?>", re.IGNORECASE), " "),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])"), r"\1"),
]


def read_markdown(text: str, doc_id: str, fallback_title: str) -> Article | None:
    """The article in a cleaned Markdown file; None when it has no text at all."""
    meta, text = split_front_matter(text)
    title = _markdown_inline(meta["title"]) if meta.get("title") else None
    if title is None:
        # A heading is an explicit title: the site-line guess is for unmarked text only.
        heading, rest = _leading_heading(text)
        if heading:
            title, text = heading, rest
    return _read_text(
        _markdown_blocks(text),
        doc_id,
        fallback_title,
        inline=_markdown_inline,
        known_title=title or None,
        url=meta.get("url") or None,
        date=meta.get("date") or None,
    )


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """({"title"|"url"|"date": value}, the text after the front matter)."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    fields = {
        key.lower(): value.strip("\"'") for key, value in _FRONT_MATTER_FIELD_RE.findall(match[1])
    }
    meta = {}
    for name, keys in _FRONT_MATTER_KEYS.items():
        value = next((fields[key] for key in keys if fields.get(key)), None)
        if value:
            meta[name] = value
    return meta, text[match.end() :]


def _leading_heading(text: str) -> tuple[str | None, str]:
    """(the document's first line if it is a heading, the text after it)."""
    lines = text.lstrip("\n").split("\n", 2)
    atx = _ATX_HEADING_RE.match(lines[0])
    if atx:
        return _markdown_inline(atx[1]) or None, "\n".join(lines[1:])
    if len(lines) > 1 and lines[0].strip() and _SETEXT_UNDERLINE_RE.match(lines[1]):
        return _markdown_inline(lines[0]) or None, "\n".join(lines[2:])
    return None, text


def _markdown_blocks(text: str) -> str:
    """Text with block syntax removed; headings and list items become blocks of their own."""
    out: list[str] = []
    for line in text.split("\n"):
        if _REFERENCE_DEFINITION_RE.match(line) or _CODE_FENCE_RE.match(line):
            continue
        if _THEMATIC_BREAK_RE.match(line) or (
            _SETEXT_UNDERLINE_RE.match(line) and out and out[-1].strip()
        ):
            out.append("")  # a break, or the underline that makes the line above a heading
            continue
        line = _BLOCKQUOTE_RE.sub("", line)
        heading = _ATX_HEADING_RE.match(line)
        if heading:
            out.extend(["", heading[1], ""])
            continue
        item = _LIST_ITEM_RE.match(line)
        if item:
            out.extend(["", line[item.end() :]])
            continue
        # Indentation means nothing in Markdown prose; without it, only blank lines split.
        out.append(line.strip())
    return "\n".join(out)


def _markdown_inline(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return collapse_whitespace(text)
