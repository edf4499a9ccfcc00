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
# Possessive (++, *+): no part of a match can ever be given back to make another part match
# (digits and separators, word characters and apostrophes are disjoint), and saying so spares
# the regex engine its backtracking bookkeeping.
_TOKEN_RE = re.compile(r"\d++(?:[.,]\d++)++|[^\W_]++(?:'[^\W_]++)*+")
# The same for text that is ASCII once normalised, hence lower case: plain ranges are checked
# faster than Unicode categories (about 30% less regex time on news text).
_ASCII_TOKEN_RE = re.compile(r"[0-9]++(?:[.,][0-9]++)++|[a-z0-9]++(?:'[a-z0-9]++)*+")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+$")
# Zero-width and bidi controls would otherwise cut words in two or hide inside them.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_APOSTROPHES_RE = re.compile("[’‘ʼ`]")

_stemmer = Stemmer.Stemmer("english")
# PyStemmer's own cache makes a new word cost 3 µs instead of 0.5 µs (it purges as it fills);
# _TERM_CACHE below already keeps each word's stem.
_stemmer.maxCacheSize = 0


def normalize(text: str) -> str:
    """The text as the tokenizer sees it: NFKC, casefolded, invisible characters removed."""
    # The checks first: most news text is ASCII, and a no-op pass still copies the string.
    if text.isascii():
        return text.replace("`", "'").lower()
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    return _APOSTROPHES_RE.sub("'", text).casefold()


def _raw_words(text: str) -> list[str]:
    """The tokens of ``normalize(text)``, before ``_clean_word``."""
    if text.isascii():
        return _ASCII_TOKEN_RE.findall(text.replace("`", "'").lower())
    return _TOKEN_RE.findall(normalize(text))


def _clean_word(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if "," in word and _THOUSANDS_RE.match(word):
        word = word.replace(",", "")
    return word


def words(text: str) -> list[str]:
    """Normalised words of ``text`` before stopword removal and stemming."""
    return [_clean_word(w) for w in _raw_words(text)]


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


def normalised_word(word: str) -> str:
    """The normalised form of one raw word as ``_raw_words`` gives it (what ``words`` makes
    of it)."""
    return _clean_word(word)


def term_of_word(word: str) -> str:
    """The index term of one raw word as ``_raw_words`` gives it ("" for a stopword)."""
    term = _TERM_CACHE.get(word)
    return _term(word) if term is None else term


def terms_of_words(raw_words: list[str]) -> list[str]:
    """``term_of_word`` of each raw word, the new ones stemmed in one call."""
    cache = _TERM_CACHE
    terms = [cache.get(word) for word in raw_words]
    if None not in terms:
        return terms  # type: ignore[return-value]
    missing = [index for index, term in enumerate(terms) if term is None]
    cleaned = [_clean_word(raw_words[index]) for index in missing]
    stems = iter(_stemmer.stemWords([w for w in cleaned if w and w not in STOPWORDS]))
    if len(cache) + len(missing) >= _TERM_CACHE_LIMIT:
        cache.clear()
    for index, word in zip(missing, cleaned, strict=True):
        term = next(stems) if word and word not in STOPWORDS else ""
        terms[index] = cache[raw_words[index]] = term
    return terms  # type: ignore[return-value]


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: stemmed words, stopwords removed, in text order."""
    cache = _TERM_CACHE
    terms = []
    for word in _raw_words(text):
        term = cache.get(word)
        if term is None:
            term = _term(word)
        if term:
            terms.append(term)
    return terms


def _pieces_table() -> bytes:
    """For ``TermEncoder``: ASCII bytes → what the ASCII token pattern sees (lower case, "`" an
    apostrophe, as normalize makes them), except that every byte that cannot be part of a
    token becomes a space."""
    table = bytearray(b" " * 256)
    for byte in b"abcdefghijklmnopqrstuvwxyz0123456789.,'":
        table[byte] = byte
    for byte in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[byte] = byte - ord("A") + ord("a")
    table[ord("`")] = ord("'")
    return bytes(table)


_PIECES_TABLE = _pieces_table()


class TermEncoder:
    """Texts → ids of their index terms, for bulk indexing: the terms ``tokenize`` gives, as
    ids into ``terms``, a vocabulary that grows as new terms appear.

    An ASCII text is cut, in C, into pieces at every character that no token can contain; the
    tokens of the text are those of its pieces, in order, since the token pattern looks neither
    behind nor ahead. A piece is nearly always one word ("said"), sometimes a word with a full
    stop or comma ("said."), rarely several words ("u.s."). Each piece seen before is one
    C-level dict lookup, with no regex pass and no Python step; only a new
    piece, or a text with a piece of several words, takes Python steps (news vocabulary is
    Zipfian: most pieces of a text have been seen). Other text takes the regex and a lookup
    per word. A stopword comes back as ``STOPWORD``, so that the caller can drop them from many
    texts at once; so does a piece without a word ("...").
    """

    STOPWORD = -1
    _SEVERAL = -2  # a piece of several words: see _several_ids

    def __init__(self) -> None:
        self.terms: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._word_ids: dict[str, int] = {}  # raw word → term id, or STOPWORD
        self._piece_ids: dict[bytes, int] = {}  # ASCII piece → term id, STOPWORD or _SEVERAL
        self._several_ids: dict[bytes, list[int]] = {}  # a piece of several words → their ids

    def __len__(self) -> int:
        """Words and pieces known: what the encoder's memory grows with."""
        return len(self._word_ids) + len(self._piece_ids)

    def encode(self, text: str) -> list[int]:
        """Term ids of the words of ``text`` in order, ``STOPWORD`` for a stopword (and for a
        piece of ASCII text without a word)."""
        if not text.isascii():
            return self._encode_words(_raw_words(text))
        pieces = text.encode("ascii").translate(_PIECES_TABLE).split()
        ids = list(map(self._piece_ids.get, pieces))
        if None in ids:
            # Only the new pieces take a Python step each, found by C-level scans: a text
            # with a new word (a third of news paragraphs: numbers, names) has one or two.
            piece_ids = self._piece_ids
            index = ids.index(None)
            while True:
                piece = pieces[index]
                piece_id = piece_ids.get(piece)
                ids[index] = self._learn(piece) if piece_id is None else piece_id
                try:
                    index = ids.index(None, index + 1)
                except ValueError:
                    break
        if self._SEVERAL not in ids:
            return ids
        several = self._several_ids
        expanded: list[int] = []
        for piece, piece_id in zip(pieces, ids, strict=True):
            if piece_id == self._SEVERAL:
                expanded += several[piece]
            else:
                expanded.append(piece_id)
        return expanded

    def _encode_words(self, words: list[str]) -> list[int]:
        try:
            return list(map(self._word_ids.__getitem__, words))
        except KeyError:
            return list(map(self._word_id, words))

    def _learn(self, piece: bytes) -> int:
        """The id of a new piece (an id, STOPWORD or _SEVERAL), now known."""
        # Most pieces are a word as they are: no regex pass for them.
        words = (
            [piece.decode("ascii")]
            if piece.isalnum()
            else _ASCII_TOKEN_RE.findall(piece.decode("ascii"))
        )
        if len(words) == 1:
            piece_id = self._word_id(words[0])
        elif not words:
            piece_id = self.STOPWORD
        else:
            piece_id = self._SEVERAL
            self._several_ids[piece] = list(map(self._word_id, words))
        self._piece_ids[piece] = piece_id
        return piece_id

    def _word_id(self, word: str) -> int:
        word_id = self._word_ids.get(word)
        if word_id is None:
            word_id = self._word_ids[word] = self._term_id(word)
        return word_id

    def _term_id(self, word: str) -> int:
        term = _term(word)
        if not term:
            return self.STOPWORD
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[term] = len(self.terms)
            self.terms.append(term)
        return term_id
