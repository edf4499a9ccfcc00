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
# A candidate boundary: terminal punctuation with any closing quotes or brackets, white space,
# then something that can start a sentence. Or a blank line, which always ends a sentence.
# The pattern starts with a plain character class, which lets the regex engine skip straight
# to the few characters that can start a boundary; the lookbehinds then tell the two kinds
# apart. Possessive repeats: punctuation, closing marks and spaces are disjoint, so giving
# any back could never make a match.
_BOUNDARY_RE = re.compile(
    r"[.!?\n](?:(?<=[.!?])[.!?]*+[\"'”’)\]]*+(?P<space>\s++)(?=[\"'“‘(\[]*[A-Z0-9À-ÖØ-Þ])"
    r"|(?<=\n)[^\S\n]*+\n\s*+)"
)
_BLANK_LINE_RE = re.compile(r"\n\s*\n")
_WORD_BEFORE_RE = re.compile(r"([\w.]+)$")
_DOTTED_ACRONYM_RE = re.compile(r"(?:\w\.)+\w")
_CLOSERS = "\"'”’)]"


# No abbreviation is longer than this; the usual word before a full stop is.
_LONGEST_ABBREVIATION = max(map(len, _ABBREVIATIONS))


def _is_abbreviation(text: str, dot: int) -> bool:
    # Letters only, and more of them than any abbreviation has: not an abbreviation, nor an
    # initial, nor a dotted acronym (which alternates letters and dots).
    if dot > _LONGEST_ABBREVIATION and text[dot - _LONGEST_ABBREVIATION - 1 : dot].isalpha():
        return False
    # Look only at a short window before the dot: searching from the start of the text would
    # make splitting quadratic in the paragraph's length.
    match = _WORD_BEFORE_RE.search(text, max(0, dot - 24), dot)
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # A single capital letter is an initial ("J. K. Rowling"); dotted acronyms likewise.
    return (len(word) == 1 and word.isalpha()) or bool(_DOTTED_ACRONYM_RE.fullmatch(word))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, white space trimmed, in order.

    Every non-space character of ``text`` lies in exactly one sentence. A blank line always
    ends a sentence: a headline or a list item has no full stop, but is not part of what follows.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        end = match.start("space")
        if end < 0:  # a blank line
            end = match.start()
        else:
            punct = text[match.start() : end]
            if (
                punct[0] == "."
                and (len(punct) == 1 or len(punct.rstrip(_CLOSERS)) == 1)
                and _is_abbreviation(text, match.start())
                and not _BLANK_LINE_RE.search(match.group("space"))
            ):
                continue
        # Indexing sends every paragraph through here: the usual sentence needs no trimming,
        # so it is not sliced.
        if start < end and not text[start].isspace() and not text[end - 1].isspace():
            spans.append((start, end))
        else:
            _append_trimmed(spans, text, start, end)
        start = match.end()
    if start < len(text) and not text[start].isspace() and not text[-1].isspace():
        spans.append((start, len(text)))
    else:
        _append_trimmed(spans, text, start, len(text))
    return spans


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        start += len(piece) - len(piece.lstrip())
        spans.append((start, start + len(stripped)))
