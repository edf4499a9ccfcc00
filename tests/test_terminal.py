"""What `newsbite ask` prints for people: the answer marked in its quoted sentence, cited;
a guess said to be one; no answer said plainly, with the closest passages."""

from __future__ import annotations

from bot.terminal import LOW_CONFIDENCE_TEXT, NO_ANSWER_TEXT, ProgressBar, render_result
from retrieval.answers import Answer, AnswerResult

SENTENCE = "The attack on the town killed 87 people last week."


def answer(confidence: float, url: str | None = "https://example.com/story") -> Answer:
    start = SENTENCE.index("87 people")
    return Answer(
        answer="87 people",
        answer_start=start,
        answer_end=start + len("87 people"),
        sentence=SENTENCE,
        sentence_start=0,
        passage=SENTENCE,
        title="Gas attack",
        url=url,
        doc_id="story.txt",
        paragraph=16,
        score=7.5,
        confidence=confidence,
    )


def test_an_answer_is_marked_in_its_sentence_and_cited():
    text = render_result(AnswerResult("How many died?", False, [answer(0.94)]))
    assert text.splitlines() == [
        "Q: How many died?",
        "A: 87 people  (confidence 0.94)",
        "   “The attack on the town killed [87 people] last week.”",
        "   — Gas attack, paragraph 16 <https://example.com/story>",
    ]


def test_a_low_confidence_answer_is_shown_as_a_guess():
    text = render_result(AnswerResult("How many died?", False, [answer(0.07, url=None)]))
    lines = text.splitlines()
    assert lines[1] == LOW_CONFIDENCE_TEXT
    assert lines[2] == "A: 87 people  (confidence 0.07)"
    assert lines[-1] == "   — Gas attack, paragraph 16 (story.txt)"
    assert LOW_CONFIDENCE_TEXT not in render_result(AnswerResult("?", False, [answer(0.3)]))


def test_no_answer_says_so_and_lists_the_closest_passages():
    text = render_result(AnswerResult("Who won?", True, [answer(0.5)]))
    assert text.splitlines() == [
        "Q: Who won?",
        NO_ANSWER_TEXT,
        "Closest passages:",
        f"  - “{SENTENCE}” — Gas attack, paragraph 16 <https://example.com/story>",
    ]


def test_the_progress_bar_counts_megabytes_while_indexing_and_items_otherwise(capsys):
    bar = ProgressBar()
    bar.update("indexing", 15_000_000, 30_000_000)
    bar.update("answering", 120, 2476)
    bar.close()
    lines = capsys.readouterr().err.split("\n")
    assert lines[0].endswith("[###############---------------] 15.0/30.0 MB")
    assert lines[1].startswith("\ranswering") and lines[1].endswith("] 120/2476")
