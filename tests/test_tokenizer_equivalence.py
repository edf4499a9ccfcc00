"""The tokenizer's speed work changed nothing it outputs: the answerer's trained model and every
stored index depend on ``tokenize`` and ``words`` giving exactly what they gave.

tests/fixtures/tokenizer/expected.jsonl holds the output of the tokenizer as it was before
(commit 2d124f4) on hard cases (Unicode, numbers, apostrophes, invisible characters) and on
the bundled article; TermEncoder, the indexer's way to the same terms, must agree with both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from golden import golden_cases
from hypothesis import given
from hypothesis import strategies as st

from retrieval import tokenizer
from retrieval.tokenizer import TermEncoder, normalize, tokenize, words

FIXTURE = Path(__file__).parent / "fixtures" / "tokenizer" / "expected.jsonl"
# The token pattern as it was: the faster ones must find exactly what it finds.
REFERENCE_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")


CASES = golden_cases(FIXTURE)


def decoded(encoder: TermEncoder, text: str) -> list[str]:
    return [encoder.terms[i] for i in encoder.encode(text) if i != TermEncoder.STOPWORD]


def test_the_fixture_covers_the_bundled_article_and_the_hard_cases():
    assert len(CASES) > 40
    assert sum("seed_article" in entry for _, entry in CASES) == 1


@pytest.mark.parametrize(("text", "expected"), CASES, ids=range(len(CASES)))
def test_tokenize_and_words_give_what_they_gave(text, expected):
    assert tokenize(text) == expected["tokenize"]
    assert words(text) == expected["words"]


def test_term_encoder_gives_the_terms_of_tokenize():
    encoder = TermEncoder()
    for text, expected in CASES * 2:  # the second time round every word is known
        assert decoded(encoder, text) == expected["tokenize"]


def test_term_encoder_gives_one_id_per_term():
    encoder = TermEncoder()
    ids = encoder.encode("runs running run RUN the a")
    assert ids[:4] == [ids[0]] * 4 and ids[4:] == [TermEncoder.STOPWORD] * 2
    assert encoder.terms == ["run"]


@given(st.text())
def test_term_encoder_agrees_with_tokenize_on_any_text(text):
    assert decoded(TermEncoder(), text) == tokenize(text)


@given(st.text())
def test_the_faster_token_pattern_finds_what_the_old_one_found(text):
    normalized = normalize(text)
    assert tokenizer._TOKEN_RE.findall(normalized) == REFERENCE_TOKEN_RE.findall(normalized)


# Text that is ASCII after normalising goes through the ASCII pattern: drawn here from the
# characters that decide tokens (letters, digits, separators, apostrophes) and a few others.
@given(st.text(alphabet="aZ09.,'`_- \n\t!?:;\"()/$%&x"))
def test_the_ascii_token_pattern_finds_what_the_old_one_found(text):
    assert tokenizer._raw_words(text) == REFERENCE_TOKEN_RE.findall(normalize(text))


# TermEncoder cuts ASCII text into pieces at characters no token can contain and remembers
# each piece: one encoder throughout, so that pieces are met both new and known.
_SHARED_ENCODER = TermEncoder()


@given(st.text(alphabet="aZ09.,'`_- \n\t!?:;\"()/$%&x"))
def test_term_encoder_agrees_with_tokenize_on_ascii_text(text):
    assert decoded(_SHARED_ENCODER, text) == tokenize(text)


def test_term_encoder_splits_pieces_of_several_words():
    encoder = TermEncoder()
    for _ in range(2):  # new pieces, then known ones
        assert decoded(encoder, "U.S. state-owned (Reuters) said: 1,000.5... `Don't' Alice's") == [
            "u",
            "state",
            "own",
            "reuter",
            "said",
            "1,000.5",
            "alic",
        ]


@given(st.lists(st.text(alphabet="aZ09.,'`_-x") | st.sampled_from(["the", "said", "1,000"])))
def test_terms_of_many_words_are_those_of_each_word(raw_words):
    # The answerer takes the terms of a batch of new words at once; the cache is cleared in
    # between so that both the batch and the single-word path compute them.
    tokenizer._TERM_CACHE.clear()
    together = tokenizer.terms_of_words([w.lower() for w in raw_words])
    tokenizer._TERM_CACHE.clear()
    assert together == [tokenizer.term_of_word(w.lower()) for w in raw_words]
