"""What the answerer's features are computed from: the question's terms with their weights,
and how the words of the retrieved passages meet them (a Reading).

The features themselves: retrieval/sentence_features.py (which sentence answers),
retrieval/passage_features.py (which passage ranks first, whether the corpus answers at all),
retrieval/span_features.py (which span of the sentence is the short answer). The words of all
passages are concatenated and matched against the question with a handful of numpy operations
(no Python loop over words or sentences per question): the whole answer stage has a budget of
a few milliseconds for dozens of passages. Feature *names* are listed next to the code that
fills them and stored with the trained weights, so a weights file that does not match this code
is refused instead of silently scoring garbage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from retrieval.documents import Passage
from retrieval.question_types import QuestionAnalysis
from retrieval.spans import PassageWords, WordColumns, joined_words, passage_words_of_many
from retrieval.stopwords import STOPWORDS
from retrieval.tokenizer import stem, tokenize, words
from retrieval.word_table import known_code

# A question term the index has never seen is rarer than any it has: weigh it like the
# rarest known term of the question (or this much when none is known), not as 0.
MIN_UNKNOWN_IDF = 4.0


class TermStatistics(Protocol):
    """What the answerer needs to know of the index: each term's idf, and its size."""

    n_docs: int

    def idf(self, term: str) -> float: ...


@dataclass(slots=True)
class QuestionTerms:
    """The question's match terms with their IDF weights."""

    analysis: QuestionAnalysis
    terms: tuple[str, ...]
    weights: np.ndarray  # idf per term, unknown terms weighted as rare
    known: np.ndarray  # bool: the index knows the term
    mass: float  # sum of weights
    content_words: tuple[str, ...]  # normalised non-stopwords of the question
    # The question's terms on either side of its wh-phrase (index into ``terms``, -1 for none):
    # "Sky is formerly known (by what name)": the answer follows "known" in the sentence;
    # "(Who) started the dynasty": it comes before "started".
    anchor_before: int = -1
    anchor_after: int = -1


def question_terms(analysis: QuestionAnalysis, idf: Callable[[str], float]) -> QuestionTerms:
    terms = analysis.match_terms
    raw = np.array([max(float(idf(t)), 0.0) for t in terms], dtype=np.float64)
    known = raw > 0
    # Relative to the question's known terms: in a corpus of three paragraphs every idf is
    # small, and a fixed weight would let one unknown word outweigh the whole question.
    unknown_weight = float(raw.max()) if known.any() else MIN_UNKNOWN_IDF
    weights = np.where(known, raw, unknown_weight)
    content = tuple(sorted(w for w in analysis.word_set if w not in STOPWORDS))
    anchor_before, anchor_after = _wh_anchors(analysis, terms)
    return QuestionTerms(
        analysis=analysis,
        terms=terms,
        weights=weights,
        known=known,
        mass=float(weights.sum()) or 1.0,
        content_words=content,
        anchor_before=anchor_before,
        anchor_after=anchor_after,
    )


def _wh_anchors(analysis: QuestionAnalysis, terms: tuple[str, ...]) -> tuple[int, int]:
    """The term of the nearest content word before the wh-phrase, and of the first content word
    after it ("what (type of) climate", "how many (teams)" and the head noun are skipped)."""
    if not analysis.wh_word:
        return -1, -1
    question_words = words(analysis.question)
    wh = question_words.index(analysis.wh_word)
    number_of = {term: number for number, term in enumerate(terms)}

    def term_number(word: str) -> int:
        word_terms = tokenize(word)
        return number_of.get(word_terms[0], -1) if word_terms else -1

    before = next((term_number(w) for w in reversed(question_words[:wh]) if w not in STOPWORDS), -1)
    following = question_words[wh + 1 :]
    skip = 0
    if analysis.head_noun:
        heads = [i for i, w in enumerate(following[:7]) if stem(w) == analysis.head_noun]
        skip = heads[0] + 1 if heads else 0
    elif analysis.wh_word == "how" and following:
        skip = 1  # "how long", "how old": the word after "how" is part of the wh-phrase
    after = next((term_number(w) for w in following[skip:] if w not in STOPWORDS), -1)
    return before, after


@lru_cache(maxsize=8192)
def title_terms(title: str) -> frozenset[str]:
    return frozenset(tokenize(title))


@dataclass(slots=True)
class Reading:
    """How the words of all passages meet the question; arrays run over all passages' words
    (``word_offset`` says where each passage starts) or over all their sentences."""

    passages: Sequence[Passage]
    words: list[PassageWords]
    joined: WordColumns  # the columns of all passages' words, end to end
    word_offset: np.ndarray  # per passage, plus the total at the end
    sentence_offset: np.ndarray  # per passage, plus the total at the end
    term_ids: np.ndarray  # per word: index of its term in the question, -1 when none
    is_question: np.ndarray  # per word: a question word (its term or its exact form)
    is_exact: np.ndarray  # per word: a question word in its exact (normalised) form
    is_content: np.ndarray  # per word: not a stopword
    sentence_of: np.ndarray  # per word: its sentence row
    sentence_passage: np.ndarray  # per sentence row: its passage
    sentence_local: np.ndarray  # per sentence row: its number within the passage
    sentence_bounds: np.ndarray  # per sentence row: [first, last) word, batch-wide
    presence: np.ndarray  # (sentence rows, question terms) bool
    term_counts: np.ndarray  # (sentence rows, question terms): occurrences
    title_presence: np.ndarray  # (passages, question terms) bool


def read_passages(
    passages: Sequence[Passage],
    question: QuestionTerms,
    words: Sequence[PassageWords] | None = None,
) -> Reading:
    """How the words of ``passages`` meet the question's; ``words``: the passages' words, when
    the caller has them already."""
    if words is None:
        words = passage_words_of_many([(p.chunk.text, p.chunk.sentences) for p in passages])
    word_counts = np.array([len(w) for w in words], dtype=np.int64)
    sentence_counts = np.array([len(w.sentence_bounds) for w in words], dtype=np.int64)
    word_offset = np.concatenate(([0], np.cumsum(word_counts)))
    sentence_offset = np.concatenate(([0], np.cumsum(sentence_counts)))
    n_passages = len(passages)
    joined = joined_words(words)
    term_codes, word_codes = joined.term_codes, joined.word_codes
    is_content = ~joined.is_stop
    if words:  # passages without a word still have their sentences (a "." paragraph)
        sentence_of = np.concatenate([w.sentence_of for w in words]) + np.repeat(
            sentence_offset[:-1], word_counts
        )
        sentence_bounds = (
            np.concatenate([w.sentence_bounds for w in words])
            + np.repeat(word_offset[:-1], sentence_counts)[:, None]
        )
    else:
        sentence_of = np.zeros(0, dtype=np.int64)
        sentence_bounds = np.zeros((0, 2), dtype=np.int64)
    # Codes are looked up only now: the passages' words have just been given theirs.
    term_ids = np.full(len(term_codes), -1, dtype=np.int64)
    for number, term in enumerate(question.terms):
        code = known_code(term)
        if code >= 0:
            term_ids[term_codes == code] = number
    # The stemmer keeps "syrian" and "syria" apart; a question term one or two letters longer
    # than a passage term of at least five letters counts as the same word.
    for number, term in enumerate(question.terms):
        for cut in (1, 2):
            if len(term) - cut >= 5 and (code := known_code(term[:-cut])) >= 0:
                term_ids[(term_codes == code) & (term_ids < 0)] = number
    # A few comparisons: np.isin's sort costs more for a question's handful of words.
    is_exact = np.zeros(len(word_codes), dtype=bool)
    for code in map(known_code, question.content_words):
        if code >= 0:
            is_exact |= word_codes == code
    is_question = (term_ids >= 0) | is_exact
    term_counts = np.zeros((int(sentence_offset[-1]), len(question.terms)), dtype=np.float64)
    matched = np.flatnonzero(term_ids >= 0)
    np.add.at(term_counts, (sentence_of[matched], term_ids[matched]), 1.0)
    presence = term_counts > 0
    titles = [title_terms(p.chunk.title) for p in passages]
    title_presence = np.array(
        [[t in title for t in question.terms] for title in titles], dtype=bool
    ).reshape(n_passages, len(question.terms))
    sentence_passage = np.repeat(np.arange(n_passages), sentence_counts)
    return Reading(
        passages=passages,
        words=words,
        joined=joined,
        word_offset=word_offset,
        sentence_offset=sentence_offset,
        term_ids=term_ids,
        is_question=is_question,
        is_exact=is_exact,
        is_content=is_content,
        sentence_of=sentence_of,
        sentence_passage=sentence_passage,
        sentence_local=np.arange(len(sentence_passage)) - sentence_offset[sentence_passage],
        sentence_bounds=sentence_bounds,
        presence=presence,
        term_counts=term_counts,
        title_presence=title_presence,
    )
