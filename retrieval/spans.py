"""Words of a passage with their character offsets, and the short-answer spans they allow.

The answer must be an exact substring of the passage, so every word keeps its offsets and a
span is cut from the original text (never re-joined from tokens). What a word *is* (its index
term, its normalised form) comes from retrieval.tokenizer, so questions and passages are
compared exactly as the index compares them; this module only finds where words start and end.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

import numpy as np

from retrieval.stopwords import STOPWORDS
from retrieval.tokenizer import normalised_word, terms_of_words, tokenize, words

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


# Words and terms as small integers, so that matching a question against thousands of passage
# words is one numpy comparison per question term. Codes are only ever added (by passages), so
# a cached passage's codes stay valid; a question word no passage has is simply not found.
_CODES: dict[str, int] = {}
NO_CODE = -2


def code_of(text: str) -> int:
    code = _CODES.get(text)
    if code is None:
        code = _CODES.setdefault(text, len(_CODES))
    return code


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


# The word table's columns, named as WordColumns names them.
_CODE_COLUMNS = ("term_codes", "word_codes", "word_hashes", "suffix_class")
_FLAG_COLUMNS = (
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


def _code_column(name: str) -> property:
    index = _CODE_COLUMNS.index(name)
    return property(lambda words: words.codes[:, index])


def _flag_column(name: str) -> property:
    index = _FLAG_COLUMNS.index(name)
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
            lower = tuple(map(_LOWER_OF_ROW.__getitem__, self.rows.tolist()))
            object.__setattr__(self, "_lower", lower)  # the same words: frozen all the same
        return lower

    @property
    def terms(self) -> tuple[str, ...]:
        """Index terms ("" for a stopword)."""
        return tuple(map(_TERM_OF_ROW.__getitem__, self.rows.tolist()))

    def term_at(self, word: int) -> str:
        return _TERM_OF_ROW[int(self.rows[word])]

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


# Every distinct word seen in a passage, once: its row in growing tables of the values
# PassageWords needs, so that analysing a passage is a findall, a dict lookup per word and numpy
# indexing, not a WordInfo per word (which was 58 % of a fresh question's cost).
_ROW_OF_WORD: dict[str, int] = {}
_LOWER_OF_ROW: list[str] = []
_TERM_OF_ROW: list[str] = []
_codes_of_row = np.zeros((1024, len(_CODE_COLUMNS)), dtype=np.int64)
_flags_of_row = np.zeros((1024, len(_FLAG_COLUMNS) - 1), dtype=bool)


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
        # In the order of _FLAG_COLUMNS.
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
    """``code_of`` each text, -1 for "" (a stopword's term)."""
    codes = _CODES
    found = []
    for text in texts:
        code = codes.get(text, -1) if text else -1
        if code < 0 and text:
            code = codes[text] = len(codes)
        found.append(code)
    return found


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
    try:
        rows = np.fromiter(
            map(_ROW_OF_WORD.__getitem__, word_list), dtype=np.int64, count=len(word_list)
        )
    except KeyError:
        _add_words(list(dict.fromkeys(w for w in word_list if w not in _ROW_OF_WORD)))
        rows = np.fromiter(
            map(_ROW_OF_WORD.__getitem__, word_list), dtype=np.int64, count=len(word_list)
        )
    codes = _codes_of_row.take(rows, axis=0)
    flags = np.empty((len(rows), len(_FLAG_COLUMNS)), dtype=bool)
    _flags_of_row.take(rows, axis=0, out=flags[:, :-1])
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
    flags = np.empty((len(rows), len(_FLAG_COLUMNS)), dtype=bool)
    _flags_of_row.take(rows, axis=0, out=flags[:, :-1])
    flags[:, -1] = breaks
    return WordColumns(rows, _codes_of_row.take(rows, axis=0), flags)


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
