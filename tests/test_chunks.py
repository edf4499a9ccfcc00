from hypothesis import given
from hypothesis import strategies as st

from retrieval.chunks import article_body, chunk_article
from retrieval.documents import Article


def article(*paragraphs: str) -> Article:
    return Article("a.txt", "Title", "https://example.com/a", None, tuple(paragraphs))


LONG = "This paragraph is comfortably longer than the minimum length for a chunk of its own."


def test_one_chunk_per_paragraph_numbered_from_one():
    chunks = chunk_article(article(LONG, LONG + " Two.", LONG + " Three."))
    assert [c.paragraph for c in chunks] == [1, 2, 3]
    assert all(c.title == "Title" and c.url == "https://example.com/a" for c in chunks)


def test_short_paragraph_is_merged_with_the_next():
    chunks = chunk_article(article("Moscow:", LONG, LONG))
    assert len(chunks) == 2
    assert chunks[0].text == "Moscow:\n\n" + LONG
    assert chunks[0].paragraph == 1 and chunks[1].paragraph == 3


def test_short_last_paragraph_joins_the_previous_chunk():
    chunks = chunk_article(article(LONG, "The end."))
    assert len(chunks) == 1 and chunks[0].text.endswith("\n\nThe end.")


def test_long_paragraph_is_split_at_sentence_boundaries():
    sentence = "The minister spoke for a long time about many things. "
    chunks = chunk_article(article(sentence * 60), max_chars=500)
    assert len(chunks) > 1
    assert all(len(c.text) <= 500 for c in chunks)
    assert all(c.paragraph == 1 for c in chunks)
    assert all(c.text.endswith("things.") for c in chunks)


def test_offsets_point_into_the_article_body():
    art = article("Moscow:", LONG, "Short one.", LONG + " And more.")
    body = article_body(art)
    for chunk in chunk_article(art):
        assert body[chunk.start : chunk.end] == chunk.text
        for start, end in chunk.sentences:
            assert chunk.text[start:end].strip() == chunk.text[start:end]


@given(st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=8))
def test_every_paragraph_is_covered_once(paragraphs):
    art = article(*paragraphs)
    chunks = chunk_article(art, max_chars=200)
    body = article_body(art)
    for chunk in chunks:
        assert body[chunk.start : chunk.end] == chunk.text
    assert "".join(body.split()) == "".join("".join(c.text for c in chunks).split())
