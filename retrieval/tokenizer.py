"""The one tokenizer for documents and questions.

NFKC + casefold, invisible format characters removed, numbers kept whole ("3.5", "1,000" →
"1000"), possessive 's dropped, hyphenated words split into their parts, English stopwords
removed, Snowball stemming. Documents and questions must go through the same function, or
their terms will not meet in the index.
"""

from __future__ import annotations

import re
import unicodedata

import Stemmer

from retrieval.stopwords import STOPWORDS

# Numbers with decimal or thousands separators first, so "3.5" is not split into "3" and "5";
# letters and digits otherwise; an apostrophe inside a word keeps it whole ("don't").
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+$")
# Zero-width and bidi controls would otherwise cut words in two or hide inside them.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_APOSTROPHES_RE = re.compile("[’‘ʼ`]")

_stemmer = Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """The text as the tokenizer sees it: NFKC, casefolded, invisible characters removed."""
    # The checks first: most news text is ASCII, and a no-op pass still copies the string.
    if text.isascii():
        return text.replace("`", "'").lower()
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    return _APOSTROPHES_RE.sub("'", text).casefold()


def _clean_word(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if "," in word and _THOUSANDS_RE.match(word):
        word = word.replace(",", "")
    return word


def words(text: str) -> list[str]:
    """Normalised words of ``text`` before stopword removal and stemming."""
    return [_clean_word(w) for w in _TOKEN_RE.findall(normalize(text))]


def stem(word: str) -> str:
    return _stemmer.stemWord(word)


# Raw word → index term ("" for a stopword). News vocabulary is Zipfian, so nearly every word
# is a hit; bounded so a stream of hostile unique words cannot grow it without limit.
_TERM_CACHE: dict[str, str] = {}
_TERM_CACHE_LIMIT = 500_000


def _term(word: str) -> str:
    cleaned = _clean_word(word)
    term = "" if not cleaned or cleaned in STOPWORDS else _stemmer.stemWord(cleaned)
    if len(_TERM_CACHE) >= _TERM_CACHE_LIMIT:
        _TERM_CACHE.clear()
    _TERM_CACHE[word] = term
    return term


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: stemmed words, stopwords removed, in text order."""
    cache = _TERM_CACHE
    terms = []
    for word in _TOKEN_RE.findall(normalize(text)):
        term = cache.get(word)
        if term is None:
            term = _term(word)
        if term:
            terms.append(term)
    return terms
