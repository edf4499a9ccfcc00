"""The sentence splitter's speed work changed none of its offsets: they are stored with every
chunk, and the answerer reads its answers from them.

tests/fixtures/sentences/expected.jsonl holds the offsets the splitter gave before (commit
2d124f4) on hard cases (abbreviations, initials, quotes, blank lines) and on the bundled
article.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.sentences import split_sentences

FIXTURE = Path(__file__).parent / "fixtures" / "sentences" / "expected.jsonl"
SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"


def expected_offsets() -> list[tuple[str, list[tuple[int, int]]]]:
    seed = SEED.read_text(encoding="utf-8")
    paragraphs = seed.split("\n\n")
    cases = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "seed_article" in entry:
            text = seed
        elif "seed_paragraph" in entry:
            text = paragraphs[entry["seed_paragraph"]]
        else:
            text = entry["text"]
        cases.append((text, [tuple(span) for span in entry["sentences"]]))
    return cases


CASES = expected_offsets()


def test_the_fixture_covers_the_bundled_article_and_the_hard_cases():
    assert len(CASES) > 40
    assert max(len(spans) for _, spans in CASES) > 20  # the whole article, many sentences


@pytest.mark.parametrize(("text", "expected"), CASES, ids=range(len(CASES)))
def test_split_sentences_gives_the_offsets_it_gave(text, expected):
    assert split_sentences(text) == expected
