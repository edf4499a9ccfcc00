"""Sentence boundaries as character offsets.

Rule based: a sentence ends at ., ! or ? (with any closing quotes or brackets after it) followed
by white space and something that can start a sentence. Known abbreviations ("Mr.", "U.S.",
"Jan.") and initials ("J. K. Rowling") do not end a sentence. Offsets, not strings, because the
answerer highlights inside the original text.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep pres rev hon
    inc ltd co corp bros dept univ assn est no nos vs etc al approx fig cf ca
    jan feb mar apr jun jul aug sep sept oct nov dec
    u.s u.k u.n e.g i.e a.m p.m d.c u.s.a n.y l.a
    """.split()
)
# Candidate ends: terminal punctuation, closing quotes/brackets, then white space.
_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)")
_NEXT_START_RE = re.compile(r"\s+[\"'“‘(\[]*[A-Z0-9À-ÖØ-Þ]")
_WORD_BEFORE_RE = re.compile(r"([\w.]+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    # Look only at a short window before the dot: searching from the start of the text would
    # make splitting quadratic in the paragraph's length.
    match = _WORD_BEFORE_RE.search(text, max(0, dot - 24), dot)
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # A single capital letter is an initial ("J. K. Rowling"); dotted acronyms likewise.
    return (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:\w\.)+\w", word))


_BLANK_LINE_RE = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, white space trimmed, in order.

    Every non-space character of ``text`` lies in exactly one sentence. A blank line always
    ends a sentence: a headline or a list item has no full stop, but is not part of what follows.
    """
    spans: list[tuple[int, int]] = []
    block_start = 0
    for blank in _BLANK_LINE_RE.finditer(text):
        spans.extend(_split_block(text, block_start, blank.start()))
        block_start = blank.end()
    spans.extend(_split_block(text, block_start, len(text)))
    return spans


def _split_block(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _END_RE.finditer(text, start, stop):
        end = match.end()
        punct = match.group(0)
        if (
            punct.startswith(".")
            and len(punct.rstrip("\"'”’)]")) == 1
            and _is_abbreviation(text, match.start())
        ):
            continue
        if not _NEXT_START_RE.match(text, end, stop):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, stop))
    return [trimmed for s, e in spans if (trimmed := _trim(text, s, e))]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
