"""The word table: every distinct word read in a passage, once, with what the answerer needs
to know of it (its normalised form, index term, codes and flags), as ``word_info`` defines them
for the word alone.

Words get a row when first seen; a passage's words are then rows, and their facts whole columns
taken from the table by numpy. Rows and codes are only ever added, so the rows and codes of a
passage analysed earlier stay valid. What a word *is* comes from retrieval.tokenizer, so that
questions and passages are compared exactly as the index compares them.
"""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.stopwords import STOPWORDS
from retrieval.tokenizer import normalised_word, terms_of_words, tokenize, words

_YEAR_RE = re.compile(r"(?:1[0-9]|20)\d\d(?:s)?")
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million billion trillion dozen dozens hundreds thousands millions "
    "half quarter first second third fourth fifth".split()
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_TIME_UNITS = frozenset(
    "second seconds minute minutes hour hours day days week weeks month months year years "
    "decade decades century centuries".split()
)
# Word endings standing in for parts of speech: an answer rarely ends with an adverb or a verb.
SUFFIX_CLASSES = (
    ("ends_ly", ("ly",)),
    ("ends_ed", ("ed",)),
    ("ends_ing", ("ing",)),
    ("ends_nominal", ("tion", "sion", "ment", "ness", "ity", "ism", "ance", "ence", "ship")),
)
_ANY_SUFFIX = tuple(ending for _, endings in SUFFIX_CLASSES for ending in endings)
# Titles that add nothing to a name the question already has: "Mr Tillerson" answers no
# question about Tillerson.
_TITLES = frozenset("mr mrs ms miss mx dr prof sir dame rev".split())


# Words and terms as small integers, so that matching a question against thousands of passage
# words is one numpy comparison per question term. Codes are only ever added (by passages), so
# a cached passage's codes stay valid; a question word no passage has is simply not found.
_CODES: dict[str, int] = {}
NO_CODE = -2


def code_of(text: str) -> int:
    """The code of a non-empty text, given one if it has none yet."""
    with _word_table_lock:
        return _codes_of([text])[0]


def known_code(text: str) -> int:
    return _CODES.get(text, NO_CODE)


@dataclass(frozen=True, slots=True)
class WordInfo:
    lower: str  # normalised word (tokenizer.words)
    term: str  # index term, "" for a stopword
    is_stop: bool
    is_number: bool
    is_year: bool
    is_month: bool
    is_time_unit: bool
    term_code: int  # -1 for a stopword
    word_code: int
    word_hash: int  # stable across runs (hashed lexical features)
    suffix_class: int  # 1 + the index of its ending in SUFFIX_CLASSES, 0 for none


@lru_cache(maxsize=100_000)
def word_info(word: str) -> WordInfo:
    lower, term = _lower_and_term(word)
    return WordInfo(
        lower=lower,
        term=term,
        is_stop=lower in STOPWORDS,
        is_number=lower[:1].isdigit() or lower in _NUMBER_WORDS,
        is_year=bool(_YEAR_RE.fullmatch(lower)),
        # Capitalised: "the attack may have been faked" holds no date.
        is_month=lower in _MONTHS and word[:1].isupper(),
        is_time_unit=lower in _TIME_UNITS,
        term_code=code_of(term) if term else -1,
        word_code=code_of(lower),
        word_hash=zlib.crc32(lower.encode("utf-8")),
        suffix_class=suffix_class(lower),
    )


def suffix_class(lower: str) -> int:
    """1 + the index of the (normalised) word's ending in ``SUFFIX_CLASSES``, 0 for none."""
    if len(lower) > 4 and lower.endswith(_ANY_SUFFIX):  # most words: one test
        for number, (_, endings) in enumerate(SUFFIX_CLASSES):
            if lower.endswith(endings):
                return number + 1
    return 0


# The word table's columns, named as retrieval.spans.WordColumns names them; a passage's flags
# add one of their own, which the table cannot know.
CODE_COLUMNS = ("term_codes", "word_codes", "word_hashes", "suffix_class")
FLAG_COLUMNS = (
    "is_single_letter",
    "is_stop",
    "is_capital",
    "is_number",
    "is_year",
    "is_month",
    "is_time_unit",
    "is_title",
    "break_after",  # not in the word table: where the passage has punctuation
)


# Every distinct word seen in a passage, once: its row in growing tables of the values
# PassageWords needs, so that analysing a passage is a split, a dict lookup per word and numpy
# indexing, not a WordInfo per word (which was 58 % of a fresh question's cost).
_ROW_OF_WORD: dict[str, int] = {}
_LOWER_OF_ROW: list[str] = []
_TERM_OF_ROW: list[str] = []
_codes_of_row = np.zeros((1024, len(CODE_COLUMNS)), dtype=np.int64)
_flags_of_row = np.zeros((1024, len(FLAG_COLUMNS) - 1), dtype=bool)


_word_table_lock = threading.Lock()


def _lower_and_term(word: str) -> tuple[str, str]:
    """A word's normalised form and its index term ("" for a stopword), as the tokenizer makes
    them of the word alone."""
    normalised = words(word)
    terms = tokenize(word)
    return (normalised[0] if normalised else word.lower()), (terms[0] if terms else "")


def _add_words(candidates: list[str]) -> None:
    """Rows for those of ``candidates`` (distinct) not in the word table, all at once: a few
    passes over the list, each a comprehension, cost far less than a function per word."""
    global _codes_of_row, _flags_of_row
    with _word_table_lock:  # two threads must not hand out the same rows or codes
        new_words = [word for word in candidates if word not in _ROW_OF_WORD]
        if not new_words:
            return
        # Nearly every new word is ASCII, which the tokenizer would find whole in its lower case
        # (the patterns agree on ASCII): its normal form and term follow without the
        # tokenizer's regex passes.
        raw = [word.lower() for word in new_words]
        lower = [r if r.isalnum() else normalised_word(r) for r in raw]
        terms = terms_of_words(raw)
        for index, word in enumerate(new_words):
            if not word.isascii():
                lower[index], terms[index] = _lower_and_term(word)
        is_number = [w[:1].isdigit() or w in _NUMBER_WORDS for w in lower]
        codes = np.array(
            [
                _codes_of(terms),
                _codes_of(lower),
                [zlib.crc32(w.encode()) for w in lower],
                [suffix_class(w) if w.endswith(_ANY_SUFFIX) else 0 for w in lower],
            ],
            dtype=np.int64,
        ).T
        # In the order of FLAG_COLUMNS.
        flags = np.array(
            [
                [len(w) == 1 and w.isalpha() for w in lower],
                [w in STOPWORDS for w in lower],
                [word[:1].isupper() for word in new_words],
                is_number,
                [
                    n and _YEAR_RE.fullmatch(w) is not None
                    for w, n in zip(lower, is_number, strict=True)
                ],
                [
                    w in _MONTHS and word[:1].isupper()
                    for w, word in zip(lower, new_words, strict=True)
                ],
                [w in _TIME_UNITS for w in lower],
                [w in _TITLES for w in lower],
            ],
            dtype=bool,
        ).T
        first_row = len(_LOWER_OF_ROW)
        end_row = first_row + len(new_words)
        while end_row > len(_codes_of_row):
            _codes_of_row = np.concatenate((_codes_of_row, np.zeros_like(_codes_of_row)))
            _flags_of_row = np.concatenate((_flags_of_row, np.zeros_like(_flags_of_row)))
        _codes_of_row[first_row:end_row] = codes
        _flags_of_row[first_row:end_row] = flags
        _LOWER_OF_ROW.extend(lower)
        _TERM_OF_ROW.extend(terms)
        # Published last: a reader that finds a word's row finds its values filled in.
        _ROW_OF_WORD.update(zip(new_words, range(first_row, end_row), strict=True))


def _codes_of(texts: list[str]) -> list[int]:
    """The code of each text, -1 for "" (a stopword's term); new texts get the next ones.
    The caller holds ``_word_table_lock``."""
    codes = _CODES
    found = []
    for text in texts:
        code = codes.get(text, -1) if text else -1
        if code < 0 and text:
            code = codes[text] = len(codes)
        found.append(code)
    return found


def rows_of_words(word_list: list[str]) -> np.ndarray:
    """The row of each word, new words added first."""
    try:
        return np.fromiter(map(_ROW_OF_WORD.__getitem__, word_list), np.int64, len(word_list))
    except KeyError:
        _add_words(list(dict.fromkeys(w for w in word_list if w not in _ROW_OF_WORD)))
        return np.fromiter(map(_ROW_OF_WORD.__getitem__, word_list), np.int64, len(word_list))


def codes_of_rows(rows: np.ndarray) -> np.ndarray:
    """(rows, CODE_COLUMNS) int64."""
    return _codes_of_row.take(rows, axis=0)


def flags_of_rows(rows: np.ndarray, out: np.ndarray) -> None:
    """The table's flags of ``rows`` into ``out`` (rows, the table's flag columns)."""
    _flags_of_row.take(rows, axis=0, out=out)


def lower_of_rows(rows: list[int]) -> tuple[str, ...]:
    return tuple(map(_LOWER_OF_ROW.__getitem__, rows))


def terms_of_rows(rows: list[int]) -> tuple[str, ...]:
    return tuple(map(_TERM_OF_ROW.__getitem__, rows))


def term_of_row(row: int) -> str:
    return _TERM_OF_ROW[row]
