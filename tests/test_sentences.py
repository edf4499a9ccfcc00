from hypothesis import given
from hypothesis import strategies as st

from retrieval.sentences import split_sentences


def sentences(text):
    return [text[start:end] for start, end in split_sentences(text)]


def test_splits_on_terminal_punctuation():
    assert sentences("It rained. Then it stopped! Did it? Yes.") == [
        "It rained.",
        "Then it stopped!",
        "Did it?",
        "Yes.",
    ]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "Mr. Putin met Rex W. Tillerson at 3 p.m. in the U.S. Embassy. They talked."
    assert sentences(text) == [
        "Mr. Putin met Rex W. Tillerson at 3 p.m. in the U.S. Embassy.",
        "They talked.",
    ]


def test_closing_quotes_stay_with_their_sentence():
    text = "He said “it went well.” Then he left."
    assert sentences(text) == ["He said “it went well.”", "Then he left."]


def test_lowercase_continuation_is_not_a_new_sentence():
    assert sentences("The price rose 3.5 per cent. to 12 dollars.") == [
        "The price rose 3.5 per cent. to 12 dollars."
    ]


def test_blank_line_always_ends_a_sentence():
    assert sentences("A headline without a stop\n\nThe story begins.") == [
        "A headline without a stop",
        "The story begins.",
    ]


@given(st.text())
def test_spans_are_ordered_trimmed_and_cover_all_text(text):
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert not text[previous_end:start].strip()
        previous_end = end
    assert not text[previous_end:].strip()
