"""The sentence splitter's speed work changed none of its offsets: they are stored with every
chunk, and the answerer reads its answers from them.

tests/fixtures/sentences/expected.jsonl holds the offsets the splitter gave before (commit
2d124f4) on hard cases (abbreviations, initials, quotes, blank lines) and on the bundled
article.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import golden_cases

from retrieval.sentences import split_sentences

FIXTURE = Path(__file__).parent / "fixtures" / "sentences" / "expected.jsonl"


CASES = [
    (text, [tuple(span) for span in entry["sentences"]]) for text, entry in golden_cases(FIXTURE)
]


def test_the_fixture_covers_the_bundled_article_and_the_hard_cases():
    assert len(CASES) > 40
    assert max(len(spans) for _, spans in CASES) > 20  # the whole article, many sentences


@pytest.mark.parametrize(("text", "expected"), CASES, ids=range(len(CASES)))
def test_split_sentences_gives_the_offsets_it_gave(text, expected):
    assert split_sentences(text) == expected
