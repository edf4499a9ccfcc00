"""passage_words: every word of a passage with true offsets and the per-word facts the
answerer reads, exactly as word_info defines them for the word alone."""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval import spans
from retrieval.sentences import split_sentences
from retrieval.spans import (
    _ASCII_WORD_SPLIT_RE,
    _BREAK_RE,
    _WORD_RE,
    _WORD_SPLIT_RE,
    PassageWords,
    _analyse,
    passage_words,
    passage_words_of_many,
    unbalanced_at,
)
from retrieval.word_table import word_info

SAMPLES = [
    "The attack killed 87 people, including 11 children, in Khan Sheikhoun on 4 April 2017.",
    "Mr Tillerson met Sergei Lavrov in Moscow - the first visit since the war began.",
    "Revenue rose 8.1% to $1,200.5 million; it was “the best year” (so far) for the firm—again.",
    "",
    "   ",
    "— ; , !",
    "Ünïcödé naïve café's owner said: 'it's fine' — 3,000 years, 1990s, Sept. 11.",
    "a b c 1 2 3 I O",
]


def assert_matches_definition(text: str) -> None:
    sentences = tuple(split_sentences(text))
    words = passage_words(text, sentences)
    matches = list(_WORD_RE.finditer(text))
    assert words.starts.tolist() == [m.start() for m in matches]
    assert words.ends.tolist() == [m.end() for m in matches]
    infos = [word_info(m.group()) for m in matches]
    assert list(words.lower) == [i.lower for i in infos]
    assert list(words.terms) == [i.term for i in infos]
    assert words.term_codes.tolist() == [i.term_code for i in infos]
    assert words.word_codes.tolist() == [i.word_code for i in infos]
    assert words.word_hashes.tolist() == [i.word_hash for i in infos]
    assert words.suffix_class.tolist() == [i.suffix_class for i in infos]
    assert words.is_stop.tolist() == [i.is_stop for i in infos]
    assert words.is_number.tolist() == [i.is_number for i in infos]
    assert words.is_year.tolist() == [i.is_year for i in infos]
    assert words.is_month.tolist() == [i.is_month for i in infos]
    assert words.is_time_unit.tolist() == [i.is_time_unit for i in infos]
    assert words.is_capital.tolist() == [m.group()[:1].isupper() for m in matches]
    assert words.is_single_letter.tolist() == [
        len(i.lower) == 1 and i.lower.isalpha() for i in infos
    ]
    # A break is punctuation between a word and the next one, never inside a word ("1,000").
    assert words.break_after.tolist() == [
        index + 1 < len(matches)
        and bool(_BREAK_RE.search(text, m.end(), matches[index + 1].start()))
        for index, m in enumerate(matches)
    ]
    start_list = words.starts.tolist()
    for number, (start, end) in enumerate(sentences):
        first, last = words.sentence_words[number]
        assert all(s >= start for s in start_list[first:last])
        assert all(s < end for s in start_list[first:last])
        assert (words.sentence_of[first:last] == number).all()
    assert np.array_equal(words.sentence_bounds, np.array(words.sentence_words).reshape(-1, 2))


def test_samples_match_the_per_word_definition() -> None:
    for text in SAMPLES:
        assert_matches_definition(text)


def test_number_with_separators_is_one_word_without_a_break() -> None:
    text = "Some 3,000 people, mostly 1.5 km away."
    words = passage_words(text, tuple(split_sentences(text)))
    surface = [text[s:e] for s, e in zip(words.starts, words.ends, strict=True)]
    assert "3,000" in surface
    assert words.break_after[surface.index("people")]
    assert not words.break_after[surface.index("3,000")]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_any_text_matches_the_per_word_definition(text: str) -> None:
    assert_matches_definition(text)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["1,000", "87", "people", "Mr", "said", ",", ";", " - ", "—", "(", ")", "it's", "May"]
        ),
        max_size=40,
    )
)
def test_news_like_text_matches_the_per_word_definition(pieces: list[str]) -> None:
    assert_matches_definition(re.sub(r"\s+", " ", " ".join(pieces)))


@pytest.mark.parametrize(
    ("text", "broken_at"),
    [
        ("1,388", -1),
        ("1,388 (0.9%)", -1),
        ("1,388 (0.9%", 6),
        ("0.9%) couples", 4),
        ("a (b [c] d) e", -1),
        ("a (b) c) d", 7),
        ('called "Mohammedanism" or "the Turk', 26),
        ("“The Turk” said", -1),
        ("“The Turk said", 0),
        ("don’t stop", -1),  # an apostrophe, not a closing quote
        ("‘quoted’ word", -1),
        ("A.H. Belo Corp <BLC", 15),  # a Reuters ticker symbol, cut short
        ("A.H. Belo Corp <BLC>", -1),
        ("n > 1", -1),  # a comparison, not a bracket
        ("", -1),
    ],
)
def test_unbalanced_at_finds_the_first_broken_bracket_or_quote(text: str, broken_at: int) -> None:
    assert unbalanced_at(text) == broken_at


def test_a_month_is_a_capitalised_word() -> None:
    # "the attack may have been faked" holds no date; "in May" and "MARCH 3" do.
    assert not word_info("may").is_month
    assert not word_info("march").is_month
    assert word_info("May").is_month
    assert word_info("MARCH").is_month


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_ascii_text_is_cut_as_the_unicode_pattern_cuts_it(text: str) -> None:
    assert _ASCII_WORD_SPLIT_RE.split(text) == _WORD_SPLIT_RE.split(text)
    assert_matches_definition(text)


def _columns(words: PassageWords) -> dict:
    return {
        field.name: (value.tolist() if isinstance(value, np.ndarray) else value)
        for field in fields(PassageWords)
        if field.compare
        for value in [getattr(words, field.name)]
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(SAMPLES) | st.text(max_size=60), max_size=6))
def test_passages_analysed_together_are_what_each_is_alone(texts: list[str]) -> None:
    # A question's passages (and a batch's) are analysed in one pass: offsets, breaks and
    # sentences must restart with each text.
    passages = [(text, tuple(split_sentences(text))) for text in texts]
    together = _analyse(passages)
    assert [_columns(words) for words in together] == [
        _columns(_analyse([passage])[0]) for passage in passages
    ]
    for text in texts:
        assert_matches_definition(text)


def test_a_sentence_running_past_its_text_s_last_word_stays_in_its_text() -> None:
    # Sentences are found for a whole batch at once; one that ends in punctuation after the
    # text's last word must not reach into the next text's words.
    texts = ["Prices rose. They fell again!!! ...   ", "Next text, new words.", "", "Last one."]
    passages = [(text, tuple(split_sentences(text))) for text in texts]
    together = _analyse(passages)
    assert [_columns(words) for words in together] == [
        _columns(_analyse([passage])[0]) for passage in passages
    ]
    assert together[0].sentence_words == ((0, 2), (2, 5))
    assert together[1].sentence_of.tolist() == [0, 0, 0, 0]


def test_passage_words_are_cached_and_the_cache_stays_bounded(monkeypatch) -> None:
    monkeypatch.setattr(spans, "_PASSAGE_CACHE_SIZE", 3)
    texts = [f"Passage number {n}, with words." for n in range(5)]
    first = passage_words_of_many([(t, ((0, len(t)),)) for t in texts])
    again = passage_words_of_many([(texts[4], ((0, len(texts[4])),))])[0]
    assert again is first[4]  # cached
    assert len(spans._PASSAGE_CACHE) <= 3
    # A paragraph repeated among one question's passages (news archives have them) is one.
    twice = passage_words_of_many([(texts[0], ((0, len(texts[0])),))] * 2)
    assert twice[0] is twice[1]
    assert passage_words_of_many([(texts[0], ((0, len(texts[0])),))])[0] is twice[0]


def test_a_cached_passage_keeps_only_its_own_words_alive() -> None:
    # Passages are analysed in batches; a cached one must not hold on to the whole batch.
    texts = ["One two three.", "Four five six seven eight nine ten eleven twelve.", "Thirteen."]
    analysed = _analyse([(text, ((0, len(text)),)) for text in texts])
    for words in analysed:
        for column in (words.starts, words.ends, words.rows, words.term_codes, words.is_stop):
            base = column if column.base is None else column.base
            assert base.size <= 9 * len(words)  # its own block of columns, at most


def test_threads_meeting_new_words_at_once_give_each_word_its_own_facts() -> None:
    # The engine is shared: two questions read at once may both meet words never seen before.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        texts = [
            " ".join(f"Zq{thread}x{n} word{n % 7}y{thread}" for n in range(300))
            for thread in range(4)
        ]
        results: dict[int, PassageWords] = {}

        def analyse(thread: int) -> None:
            results[thread] = _analyse([(texts[thread], ((0, len(texts[thread])),))])[0]

        workers = [threading.Thread(target=analyse, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    for thread, text in enumerate(texts):
        words = results[thread]
        surface = [text[s:e] for s, e in zip(words.starts, words.ends, strict=True)]
        assert list(words.lower) == [word_info(w).lower for w in surface]
        assert words.word_codes.tolist() == [word_info(w).word_code for w in surface]
        assert words.word_hashes.tolist() == [word_info(w).word_hash for w in surface]
