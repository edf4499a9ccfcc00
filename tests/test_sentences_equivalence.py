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


# Where the splitter decides without its word-before-the-dot regex: a word of letters longer
# than any abbreviation, or a last piece with nothing to trim. Offsets as the splitter gave
# them before that shortcut.
SHORTCUT_CASES = [
    # "approx" is the longest abbreviation (6 letters); "xapprox" (7) is a word.
    ("Approx. 5 people came. Xapprox. 5 people came.", [(0, 22), (23, 31), (32, 46)]),
    ("Mr. Smith left. Sept. Then more.", [(0, 15), (16, 32)]),
    ("At Constantinople. Then Istanbul. Tall buildings.", [(0, 18), (19, 33), (34, 49)]),
    ("J. K. Rowling wrote. In U.S.A. Then.", [(0, 20), (21, 36)]),
    ("İİİİİİİ. Next one.", [(0, 8), (9, 18)]),  # lower case is longer: still a word
    ("Rowling. Written ", [(0, 8), (9, 16)]),  # the last piece trimmed
    ("Rowling. Written", [(0, 8), (9, 16)]),
]


@pytest.mark.parametrize(("text", "expected"), SHORTCUT_CASES, ids=range(len(SHORTCUT_CASES)))
def test_the_shortcuts_give_the_offsets_the_full_checks_gave(text, expected):
    assert split_sentences(text) == expected
