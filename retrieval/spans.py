"""Words of a passage with their character offsets, and the short-answer spans they allow.

The answer must be an exact substring of the passage, so every word keeps its offsets and a
span is cut from the original text (never re-joined from tokens). What a word *is* (its index
term, its normalised form, its flags) comes from the word table (retrieval.word_table); this
module finds where words start and end, and which spans could answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from retrieval.word_table import (
    CODE_COLUMNS,
    FLAG_COLUMNS,
    codes_of_rows,
    flags_of_rows,
    lower_of_rows,
    rows_of_words,
    term_of_row,
    terms_of_rows,
)

# Word boundaries as the tokenizer draws them (numbers with separators whole, an apostrophe
# inside a word keeps it whole), on the original text so that offsets stay true.
_WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['’ʼ][^\W_]+)*")
# The same words as a splitting pattern: split() gives the text before each word, the word, ...,
# and the text after the last, whose lengths give every offset; and it finds each word by a
# plain search where a pattern for the text before it would try a word at every character.
_WORD_SPLIT_RE = re.compile("(" + _WORD_RE.pattern + ")")
# The same for ASCII text (most news): plain ranges instead of Unicode classes, and no
# backtracking into a word, which can never be given back.
_ASCII_WORD_SPLIT_RE = re.compile(r"([0-9]++(?:[.,][0-9]++)++|[A-Za-z0-9]++(?:'[A-Za-z0-9]++)*+)")
_CURRENCY_BEFORE = "$£€¥"
# A break between two words that a short answer rarely spans.
_BREAK_RE = re.compile(r"[,;:()\[\]\"“”]|\s[-–—]\s|[–—]")
MAX_SPAN_WORDS = 7
_QUANTIFIERS = tuple(
    tuple(phrase.split())
    for phrase in (
        "more than",
        "less than",
        "fewer than",
        "at least",
        "up to",
        "about",
        "around",
        "over",
        "nearly",
        "almost",
        "some",
        "approximately",
    )
)


def _code_column(name: str) -> property:
    index = CODE_COLUMNS.index(name)
    return property(lambda words: words.codes[:, index])


def _flag_column(name: str) -> property:
    index = FLAG_COLUMNS.index(name)
    return property(lambda words: words.flags[:, index])


@dataclass(frozen=True, slots=True)
class WordColumns:
    """Facts of a run of words: a passage's, or several passages' end to end
    (``joined_words``). They are kept as the word table keeps them, a block of codes and a
    block of flags, and each column is a view of its block: most readers look at a few."""

    rows: np.ndarray  # each word's row in the word table
    codes: np.ndarray  # (words, 4) int64: the code columns below
    flags: np.ndarray  # (words, 9) bool: the flag columns below, then break_after
    # Normalised words (tokenizer.words), made from the rows when first asked for: only the
    # passages that give a short answer need them.
    _lower: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)

    term_codes = _code_column("term_codes")
    word_codes = _code_column("word_codes")
    word_hashes = _code_column("word_hashes")
    suffix_class = _code_column("suffix_class")
    is_single_letter = _flag_column("is_single_letter")
    is_stop = _flag_column("is_stop")
    is_capital = _flag_column("is_capital")  # starts with an upper-case letter
    is_number = _flag_column("is_number")
    is_year = _flag_column("is_year")
    is_month = _flag_column("is_month")
    is_time_unit = _flag_column("is_time_unit")
    is_title = _flag_column("is_title")  # "Mr", "Dr": adds nothing to a name
    break_after = _flag_column("break_after")  # punctuation between this word and the next

    @property
    def lower(self) -> tuple[str, ...]:
        lower = self._lower
        if lower is None:
            lower = lower_of_rows(self.rows.tolist())
            object.__setattr__(self, "_lower", lower)  # the same words: frozen all the same
        return lower

    @property
    def terms(self) -> tuple[str, ...]:
        """Index terms ("" for a stopword)."""
        return terms_of_rows(self.rows.tolist())

    def term_at(self, word: int) -> str:
        return term_of_row(int(self.rows[word]))

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class PassageWords(WordColumns):
    """The words of one passage text, and the word range of each sentence."""

    text: str
    positions: np.ndarray  # (3, words): starts, ends, sentence_of
    sentence_bounds: np.ndarray  # (sentences, 2): [first, last + 1) word index of each

    @property
    def starts(self) -> np.ndarray:
        """Character offsets of each word in ``text``."""
        return self.positions[0]

    @property
    def ends(self) -> np.ndarray:
        return self.positions[1]

    @property
    def sentence_of(self) -> np.ndarray:
        """Sentence number of each word."""
        return self.positions[2]

    @property
    def sentence_words(self) -> tuple[tuple[int, int], ...]:
        """[first, last + 1) word index of each sentence."""
        return tuple(map(tuple, self.sentence_bounds.tolist()))


# Passages already analysed, most recently used last: one passage answers many questions.
_PASSAGE_CACHE: dict[tuple[str, tuple[tuple[int, int], ...]], PassageWords] = {}
_PASSAGE_CACHE_SIZE = 8192
_passage_cache_lock = threading.Lock()

Sentences = tuple[tuple[int, int], ...]


def passage_words(text: str, sentences: Sentences) -> PassageWords:
    """Words of ``text``, whose sentences are the character ranges ``sentences``."""
    return passage_words_of_many([(text, sentences)])[0]


def passage_words_of_many(passages: Sequence[tuple[str, Sentences]]) -> list[PassageWords]:
    """``passage_words`` of each (text, sentences), those not seen lately analysed together:
    numpy's cost is per call, so a question's passages (or a batch's) cost hardly more than
    one."""
    distinct = list(dict.fromkeys(passages))  # news archives repeat paragraphs
    with _passage_cache_lock:
        cached = [(key, _PASSAGE_CACHE.pop(key, None)) for key in distinct]
    found = {key: words for key, words in cached if words is not None}
    missing = [key for key in distinct if key not in found]
    if missing:
        found.update(zip(missing, _analyse(missing), strict=True))
    with _passage_cache_lock:
        for key in distinct:
            _PASSAGE_CACHE[key] = found[key]  # (re)inserted last: the most recently used
        while len(_PASSAGE_CACHE) > _PASSAGE_CACHE_SIZE:
            del _PASSAGE_CACHE[next(iter(_PASSAGE_CACHE))]
    return [found[key] for key in passages]


def _analyse(passages: list[tuple[str, Sentences]]) -> list[PassageWords]:
    # Each text split into [gap, word, gap, ..., word, gap]: the parts of all the texts, end
    # to end, are the texts end to end, so a running total of their lengths gives offsets.
    parts_of = [
        (_ASCII_WORD_SPLIT_RE if text.isascii() else _WORD_SPLIT_RE).split(text)
        for text, _ in passages
    ]
    word_counts = [len(parts) // 2 for parts in parts_of]
    first_word = np.cumsum([0, *word_counts])
    first_part = 2 * first_word[:-1] + np.arange(len(passages))
    all_parts = list(chain.from_iterable(parts_of))
    totals = np.zeros(len(all_parts) + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter(map(len, all_parts), dtype=np.int64, count=len(all_parts)), out=totals[1:]
    )
    text_start = np.repeat(totals[first_part], word_counts)  # where each word's text begins
    word_part = (
        2 * np.arange(int(first_word[-1])) + 1 + np.repeat(np.arange(len(passages)), word_counts)
    )
    starts = totals[word_part] - text_start
    ends = totals[word_part + 1] - text_start
    word_list = list(chain.from_iterable(parts[1::2] for parts in parts_of))
    rows = rows_of_words(word_list)
    codes = codes_of_rows(rows)
    flags = np.empty((len(rows), len(FLAG_COLUMNS)), dtype=bool)
    flags_of_rows(rows, flags[:, :-1])
    # The gaps between a text's words: almost every one is a single space, and only the others
    # can hold a break. (Python steps: a passage has a few dozen words, a numpy pass costs more.)
    inner_gaps = list(chain.from_iterable(parts[2:-1:2] for parts in parts_of))
    broken = [n for n, gap in enumerate(inner_gaps) if gap != " " and _BREAK_RE.search(gap)]
    breaks = flags[:, -1]
    breaks[:] = False
    if broken:
        has_gap_after = np.ones(len(rows), dtype=bool)  # every word but a text's last
        has_gap_after[(first_word[1:] - 1)[np.array(word_counts) > 0]] = False
        breaks[np.flatnonzero(has_gap_after)[broken]] = True
    sentence_bounds, sentence_of, first_sentence = _sentences_of_many(
        passages, starts + text_start, totals[first_part], first_word
    )
    positions = np.stack((starts, ends, sentence_of))
    # Each passage gets copies of its own parts of these blocks (its columns are views of them):
    # views of the whole batch would keep all of it alive as long as one passage stays cached.
    return [
        PassageWords(
            rows=rows[low:high].copy(),
            codes=codes[low:high].copy(),
            flags=flags[low:high].copy(),
            text=text,
            positions=positions[:, low:high].copy(),
            sentence_bounds=sentence_bounds[first:last].copy(),
        )
        for (text, _), low, high, first, last in zip(
            passages,
            first_word[:-1].tolist(),
            first_word[1:].tolist(),
            first_sentence[:-1].tolist(),
            first_sentence[1:].tolist(),
            strict=True,
        )
    ]


def _sentences_of_many(
    passages: list[tuple[str, Sentences]],
    word_starts: np.ndarray,
    text_starts: np.ndarray,
    first_word: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For texts analysed together (their words begin at ``word_starts`` in the texts end to
    end, the texts at ``text_starts``, each text's words at ``first_word``): the [first, last)
    words of each sentence within its text, each word's sentence number within its text (0 for
    a word outside every sentence), and where each text's sentences begin."""
    counts = [len(sentences) for _, sentences in passages]
    first_sentence = np.cumsum([0, *counts])
    chars = np.fromiter(
        chain.from_iterable(chain.from_iterable(sentences for _, sentences in passages)),
        dtype=np.int64,
        count=2 * int(first_sentence[-1]),
    ).reshape(-1, 2)
    text_of = np.repeat(np.arange(len(passages)), counts)
    # One search over the batch; a bound is kept within its text's words all the same.
    text_first = first_word[:-1][text_of][:, None]
    bounds = np.searchsorted(word_starts, chars + text_starts[text_of][:, None])
    bounds = np.clip(bounds, text_first, first_word[1:][text_of][:, None])
    sizes = np.maximum(bounds[:, 1] - bounds[:, 0], 0)
    covered = np.arange(int(sizes.sum())) + np.repeat(
        bounds[:, 0] - (np.cumsum(sizes) - sizes), sizes
    )
    sentence_of = np.zeros(int(first_word[-1]), dtype=np.int64)
    local_number = np.arange(len(text_of)) - first_sentence[:-1][text_of]
    sentence_of[covered] = np.repeat(local_number, sizes)
    return bounds - text_first, sentence_of, first_sentence


def joined_words(passages: Sequence[PassageWords]) -> WordColumns:
    """The columns of ``passages``' words, one passage after the other: two takes from the
    word table, not a concatenation per column."""
    if len(passages) == 1:
        return passages[0]
    if not passages:
        rows, breaks = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    else:
        rows = np.concatenate([words.rows for words in passages])
        breaks = np.concatenate([words.break_after for words in passages])
    flags = np.empty((len(rows), len(FLAG_COLUMNS)), dtype=bool)
    flags_of_rows(rows, flags[:, :-1])
    flags[:, -1] = breaks
    return WordColumns(rows, codes_of_rows(rows), flags)


def candidate_spans(
    bounds: Sequence[tuple[int, int]], is_stop: np.ndarray, is_question: np.ndarray, max_words: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start word, end word inclusive) of the short-answer candidates in each sentence's words
    [first, last), sentence after sentence, and how many each sentence has.

    A candidate neither starts nor ends with a stopword, and is not made only of the question's
    own words and stopwords: an answer that repeats the question answers nothing. (Callers
    count a title such as "Mr" as a question word for this.)
    """
    firsts = np.array([first for first, _ in bounds], dtype=np.int64).reshape(-1)
    lasts = np.array([last for _, last in bounds], dtype=np.int64).reshape(-1)
    sizes = np.maximum(lasts - firsts, 0)
    sentence = np.repeat(np.arange(len(sizes)), sizes)
    # Word positions of every sentence, one run after the other.
    positions = np.arange(int(sizes.sum())) + np.repeat(firsts - (np.cumsum(sizes) - sizes), sizes)
    starts = np.repeat(positions, max_words)
    ends = starts + np.tile(np.arange(max_words), len(positions))
    span_sentence = np.repeat(sentence, max_words)
    keep = ends < lasts[span_sentence]
    starts, ends, span_sentence = starts[keep], ends[keep], span_sentence[keep]
    keep = ~is_stop[starts] & ~is_stop[ends]
    starts, ends, span_sentence = starts[keep], ends[keep], span_sentence[keep]
    new_word = ~is_question & ~is_stop
    new_before = np.concatenate(([0], np.cumsum(new_word)))
    keep = new_before[ends + 1] - new_before[starts] > 0
    counts = np.bincount(span_sentence[keep], minlength=len(sizes)).astype(np.int64)
    return starts[keep], ends[keep], counts


def span_offsets(passage: PassageWords, start_word: int, end_word: int) -> tuple[int, int]:
    """Character offsets of words [start_word, end_word] in the passage text, with a currency
    sign just before or a per cent sign just after, so "$1.2 billion" and "50%" read whole."""
    text = passage.text
    start = int(passage.starts[start_word])
    end = int(passage.ends[end_word])
    if start > 0 and text[start - 1] in _CURRENCY_BEFORE:
        start -= 1
    if end < len(text) and text[end] == "%":
        end += 1
    return start, end


# "<" ">" as Reuters writes ticker symbols: "A.H. Belo Corp <BLC>".
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"), ("‘", "’"), ("<", ">"))
# Closers that also stand alone ("don’t", "x > 1"): checked only where their opener is.
_LONE_CLOSERS_ALLOWED = frozenset("‘<")


def unbalanced_at(text: str) -> int:
    """Where ``text`` first breaks its brackets and quotation marks: the earliest one closed
    before it opens or left open; -1 when none is. A short answer such as "1,388 (0.9%" reads
    as broken. ("’" also ends "don’t", ">" compares: a text without their opener is not held
    to them; straight quotes, which cannot say which way they face, must come in pairs.)"""
    broken = len(text)
    for opener, closer in _PAIRS:
        if opener not in text and (closer not in text or opener in _LONE_CLOSERS_ALLOWED):
            continue
        open_at: list[int] = []
        for position, character in enumerate(text):
            if character == opener:
                open_at.append(position)
            elif character == closer:
                if not open_at:
                    broken = min(broken, position)
                    break
                open_at.pop()
        if open_at:
            broken = min(broken, open_at[0])
    if text.count('"') % 2:
        broken = min(broken, text.rindex('"'))
    return -1 if broken == len(text) else broken


def extend_number_span(
    passage: PassageWords, start_word: int, end_word: int, first: int, last: int, noun: str
) -> tuple[int, int]:
    """A number span stretched over the noun the question counts and the quantifier before
    it: "how many people" is answered "87 people", "how many attacks" "more than 50 attacks".
    [first, last) are the sentence's words."""
    if not passage.is_number[end_word] and not passage.is_number[start_word]:
        return start_word, end_word
    lower = passage.lower
    for phrase in _QUANTIFIERS:
        size = len(phrase)
        before = start_word - size
        if before >= first and lower[before:start_word] == phrase:
            start_word = before
            break
    following = end_word + 1
    if (
        noun
        and passage.is_number[end_word]
        and following < last
        and not passage.break_after[end_word]
    ):
        # The counted noun may come after a modifier or two: "50 chemical attacks".
        for candidate in range(following, min(following + 3, last)):
            if passage.term_at(candidate) == noun:
                return start_word, candidate
            if passage.break_after[candidate] or passage.is_stop[candidate]:
                break
    return start_word, end_word
