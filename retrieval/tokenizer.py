"""The one tokenizer for documents and questions.

NFKC + casefold, invisible format characters removed, numbers kept whole ("3.5", "1,000" →
"1000"), possessive 's dropped, hyphenated words split into their parts, English stopwords
removed, Snowball stemming. Documents and questions must go through the same function, or
their terms will not meet in the index.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

from retrieval.stopwords import STOPWORDS

# Numbers with decimal or thousands separators first, so "3.5" is not split into "3" and "5";
# letters and digits otherwise; an apostrophe inside a word keeps it whole ("don't").
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+$")
# Zero-width and bidi controls would otherwise cut words in two or hide inside them.
_INVISIBLE = dict.fromkeys(
    [
        0x00AD,
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x2060,
        0xFEFF,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})

_stemmer = Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """The text as the tokenizer sees it: NFKC, casefolded, invisible characters removed."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return text.translate(_APOSTROPHES).casefold()


def _clean_word(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if _THOUSANDS_RE.match(word):
        word = word.replace(",", "")
    return word


def words(text: str) -> list[str]:
    """Normalised words of ``text`` before stopword removal and stemming."""
    return [_clean_word(w) for w in _TOKEN_RE.findall(normalize(text))]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: stemmed words, stopwords removed, in text order."""
    return [stem(w) for w in words(text) if w and w not in STOPWORDS]
