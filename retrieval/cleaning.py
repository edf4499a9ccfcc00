"""Cleaning text the way a news reader sees it.

Three layers: characters (newlines, control characters, NFC), paragraph splitting (blank lines,
or a newline followed by indentation as in hard-wrapped newswire; HTML bodies of JSON records
and feed items through the HTML reader), and paragraph filtering
(page furniture dropped, photo credits cut off captions, repeats dropped). Every reader
(plain text, Markdown, HTML, JSON) ends with ``finish_paragraphs`` so all formats are cleaned
alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# C0 and C1 control characters except tab and newline; DEL too. Zero-width no-break spaces
# (stray BOMs in the middle of concatenated files) go with them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
# Line and page separators become line breaks before control characters are removed, so the
# lines they separate are not glued together.
_LINE_BREAK_RE = re.compile(r"\r\n?|[\f\v\u2028\u2029]")
_LINE_BREAKS = {"\u2029": "\n\n"}
_BLANK_LINE_RE = re.compile(r"\n[^\S\n]*\n")
_PARAGRAPH_BREAK_RE = re.compile(r"\n[^\S\n]*\n|\n(?=[^\S\n])")  # blank line or indentation
_FLUSH_LINE_RE = re.compile(r"^\S", re.M)


def clean_characters(text: str) -> str:
    """Unix newlines, no control characters, NFC. Line structure is kept for the readers."""
    # Fast path, all in C: printable apart from newlines and tabs means no control characters
    # and no odd line breaks (both are "not printable"), leaving only normalisation to check.
    if not text.replace("\n", "").replace("\t", "").isprintable():
        text = _LINE_BREAK_RE.sub(lambda m: _LINE_BREAKS.get(m.group(), "\n"), text)
        text = _CONTROL_RE.sub("", text)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def collapse_whitespace(text: str) -> str:
    """Runs of any white space (NBSP, thin and ideographic spaces, newlines) → one space."""
    # Most paragraphs have no white space but single spaces and line breaks (hard-wrapped
    # newswire): checked in C, which is cheaper than splitting them into words. Every white
    # space character but the space itself is "not printable".
    joined = text.strip().replace("\n", " ")
    if "  " not in joined and joined.isprintable():
        return joined
    return " ".join(joined.split())


def drop_repeated_lines(text: str) -> str:
    """``text`` without lines that repeat the line just before them: a scraping artefact
    (a page's photo captions come out twice)."""
    lines = text.split("\n")
    kept = [
        line for i, line in enumerate(lines) if not (i and line.strip() and line == lines[i - 1])
    ]
    return "\n".join(kept) if len(kept) < len(lines) else text


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain text, each on one line with white space collapsed.

    Paragraphs end at blank lines. A line that starts with indentation starts a new paragraph
    too (hard-wrapped newswire: continuation lines are flush left, each paragraph is indented),
    unless no line of the text is flush left: then indentation marks nothing. A text with
    neither, whose lines nearly all end a sentence, has a paragraph per line (exports that
    separate paragraphs with a single newline); hard-wrapped lines mostly end mid-sentence.
    """
    if "\n" not in text:
        return [p] if (p := collapse_whitespace(text)) else []
    splitter = _PARAGRAPH_BREAK_RE if _FLUSH_LINE_RE.search(text) else _BLANK_LINE_RE
    parts = splitter.split(text)
    if len(parts) == 1 and _lines_are_paragraphs(text):
        parts = text.split("\n")
    return [p for part in parts if (p := collapse_whitespace(part))]


# How a sentence ends: its punctuation, then perhaps closing quotes or brackets.
_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’»)\]]*\s*$")
_LINES_ENDING_SENTENCES = 0.8  # share of lines that must end a sentence to be paragraphs


def _lines_are_paragraphs(text: str) -> bool:
    lines = [line for line in text.split("\n") if line.strip()]
    ending = sum(1 for line in lines if _SENTENCE_END_RE.search(line))
    return len(lines) > 1 and ending >= _LINES_ENDING_SENTENCES * len(lines)


# A body (a JSON record's, a feed item's) is read as HTML when it has an end tag or a line
# break of HTML, or starts with a doctype, a comment or a block element ("<p>" with its ends
# left out, "<img …>"). Any tag-like start is not enough: newswire marks company names and
# tickers with angle brackets ("<America First Fund> said", "Sears, Roebuck and Co <S>"), and
# reading those as tags would drop the names.
_HTML_ELEMENTS = (
    "a|abbr|article|aside|b|blockquote|body|center|cite|code|del|div|em|figcaption|figure"
    "|font|footer|h[1-6]|head|header|html|i|iframe|ins|li|main|mark|nav|ol|p|picture|pre|q"
    "|s|script|section|small|span|strong|style|sub|sup|table|tbody|td|th|thead|time|tr|u|ul"
)
_HTML_BLOCK_START = (
    r"^\s*<(?:article|blockquote|body|div|figure|h[1-6]|header|html|img|main|ol|p|section"
    r"|table|ul)(?=[\s>/])"
)
_HTML_RE = re.compile(
    rf"</(?:{_HTML_ELEMENTS})\s*>|<br\s*/?>|^\s*<!|{_HTML_BLOCK_START}", re.IGNORECASE
)


def body_paragraphs(text: str) -> list[str]:
    """Paragraphs of a body that is either HTML or plain text, characters cleaned."""
    text = clean_characters(text)
    if "<" in text and _HTML_RE.search(text):
        # Imported on first use: BeautifulSoup costs a tenth of a second that a corpus without
        # HTML (and every `newsbite ask`) need not pay.
        from retrieval.html_reader import html_paragraphs

        return html_paragraphs(text)
    return split_paragraphs(text)


# Page furniture: whole paragraphs that belong to the web page, not to the story. Each pattern
# must match the entire (short) paragraph, so a sentence that merely starts with "Register"
# or mentions comments is never dropped.
_FURNITURE_PATTERNS: dict[str, str] = {
    "comment prompt": (
        r"add your comment to this (?:story|article)\.?"
        r"|(?:to )?join the conversation\b.*"
        r"|comments? (?:are|is|have been) (?:now )?(?:closed|disabled)\.?"
        r"|(?:be the first to |leave a |post a |show |view )?comments?(?: \(\d+\))?\.?"
        r"|\d+ comments?"
    ),
    "related links": r"(?:read )?related (?:topics|articles|stories|content|coverage)(?:\s*:.*)?",
    "account prompt": (
        r"(?:please )?(?:log ?in|log ?out|sign ?in|sign ?out)"
        r"(?: (?:or|to|with|here)\b.{0,60})?[.!]?"
        r"|(?:please )?(?:register|subscribe|sign up)(?: now| today| here| for free)?"
        r"(?: (?:or|to|for) (?:our|the|get|read|continue|access|unlimited|free|log|sign|comment)"
        r"\b.{0,60})?[.!]?"
        r"|(?:already (?:a subscriber|a member|have an account|registered)"
        r"|don't have an account|not a subscriber|new here)\?.{0,80}"
        r"|subscribe to .{0,40}newsletter.{0,60}"
    ),
    "share buttons": (
        r"share (?:this|the) (?:article|story|page|post|video)(?: (?:on|via|with)\b.{0,40})?:?"
        r"|share(?: on| via)?(?:[\s|/,·]*(?:facebook|twitter|x|whatsapp|linkedin|email|e-mail"
        r"|reddit|print|copy link|messenger))+"
        r"|(?:facebook|twitter|whatsapp|linkedin|email|print)(?:[\s|/,·]+(?:facebook|twitter"
        r"|whatsapp|linkedin|email|print|share))*"
    ),
    "advertisement": (
        r"advertisement|advertising|sponsored(?: content)?|ad"
        r"|(?:story|article) continues below(?: this)?(?: advertisement)?\.?"
        r"|continue reading(?: below| the main story)?\.?"
    ),
    "follow prompt": (
        r"follow (?:us|me|\S+(?: \S+)?) on (?:twitter|facebook|instagram|x|threads|bluesky"
        r"|tiktok|youtube|linkedin|telegram|mastodon|whatsapp|google news)\b.{0,60}"
        r"|follow us(?: @\S+)?"
    ),
    "image credit line": r"image (?:copyright|source)\b.{0,100}",
}
_FURNITURE_MAX_CHARS = 200
_FURNITURE_RE = re.compile(
    "|".join(f"(?:{pattern})" for pattern in _FURNITURE_PATTERNS.values()), re.IGNORECASE
)

# A trailing photo credit on a caption: "… at all. Picture: Nicholas Kamm/AFP". The keyword is
# capitalised and the credit is short and runs to the end, so prose is not cut.
_CREDIT_KEYWORDS = r"(?:Picture|Photo|Photograph|Image|Credit|Pic)s?"
_TRAILING_CREDIT_RE = re.compile(rf"\s+{_CREDIT_KEYWORDS}\s*:\s*[^\s:][^:]{{0,100}}$")
_CREDIT_ONLY_RE = re.compile(rf"{_CREDIT_KEYWORDS}\s*:\s*.{{0,120}}", re.IGNORECASE)


def is_furniture(paragraph: str) -> bool:
    """True for a paragraph that is part of the page around the story (prompts, share bars)."""
    return len(paragraph) <= _FURNITURE_MAX_CHARS and bool(_FURNITURE_RE.fullmatch(paragraph))


def strip_photo_credit(paragraph: str) -> str:
    """The caption without its trailing credit; "" when the paragraph is only a credit."""
    if ":" not in paragraph:  # every credit has one; most paragraphs do not
        return paragraph
    if _CREDIT_ONLY_RE.fullmatch(paragraph):
        return ""
    return _TRAILING_CREDIT_RE.sub("", paragraph)


def finish_paragraphs(paragraphs: Iterable[str], title: str = "") -> tuple[str, ...]:
    """The story's paragraphs, in order: furniture and credits removed, empty ones and
    repeats (of the title, or of an earlier paragraph) dropped. The input paragraphs must
    already be single lines with white space collapsed (as ``split_paragraphs`` makes them)."""
    seen = {title} if title else set()
    kept: list[str] = []
    furniture = _FURNITURE_RE.fullmatch  # the loop runs ~100k times for a big corpus
    for raw in paragraphs:
        paragraph = strip_photo_credit(raw) if ":" in raw else raw
        if (
            not paragraph
            or paragraph in seen
            or (len(paragraph) <= _FURNITURE_MAX_CHARS and furniture(paragraph))
        ):
            continue
        seen.add(paragraph)
        kept.append(paragraph)
    return tuple(kept)
