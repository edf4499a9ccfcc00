"""Articles → paragraph chunks.

A paragraph is the unit a reader cites, so it is the unit we retrieve. Two exceptions: a very
short paragraph (a one-line quote, a dateline) says too little to be found on its own, so it is
merged into the following paragraph (or the previous one at the end of an article); a very long
paragraph (a table, an unwrapped page) would drown its answer, so it is cut at sentence
boundaries into parts of at most ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Iterator

from retrieval.documents import Article, Chunk
from retrieval.sentences import split_sentences

MIN_CHARS = 80
MAX_CHARS = 1500
PARAGRAPH_SEPARATOR = "\n\n"


# A chunk without its article's fields: paragraph, text, start, end, sentences (as in Chunk).
ChunkSpan = tuple[int, str, int, int, tuple[tuple[int, int], ...]]


def chunk_article(
    article: Article, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS
) -> list[Chunk]:
    """Chunks of ``article`` in reading order; their texts cover every paragraph exactly once."""
    return [
        Chunk(article.doc_id, article.title, article.url, paragraph, text, start, end, sentences)
        for paragraph, text, start, end, sentences in chunk_spans(
            article.paragraphs, min_chars, max_chars
        )
    ]


def chunk_spans(
    paragraphs: tuple[str, ...], min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS
) -> list[ChunkSpan]:
    """What ``chunk_article`` makes of these paragraphs, as plain tuples: the indexer's form."""
    offsets = _paragraph_offsets(paragraphs)
    spans: list[ChunkSpan] = []
    for first, last in _merge_short(paragraphs, min_chars):
        start = offsets[first]
        text = PARAGRAPH_SEPARATOR.join(paragraphs[first : last + 1])
        for part_start, part_end, sentences in _split_long(text, max_chars):
            spans.append(
                (
                    first + 1,
                    text[part_start:part_end],
                    start + part_start,
                    start + part_end,
                    sentences,
                )
            )
    return spans


def article_body(article: Article) -> str:
    """The text that chunk offsets refer to."""
    return PARAGRAPH_SEPARATOR.join(article.paragraphs)


def _paragraph_offsets(paragraphs: tuple[str, ...]) -> list[int]:
    offsets, position = [], 0
    for paragraph in paragraphs:
        offsets.append(position)
        position += len(paragraph) + len(PARAGRAPH_SEPARATOR)
    return offsets


def _merge_short(paragraphs: tuple[str, ...], min_chars: int) -> list[tuple[int, int]]:
    """Groups (first, last) of paragraph indexes; a short paragraph joins the next one."""
    groups: list[tuple[int, int]] = []
    first = size = 0
    for index, paragraph in enumerate(paragraphs):
        size += len(paragraph)  # of paragraphs[first : index + 1]
        if size >= min_chars or index == len(paragraphs) - 1:
            groups.append((first, index))
            first, size = index + 1, 0
    if len(groups) > 1:
        last_first, last_last = groups[-1]
        tail = sum(len(p) for p in paragraphs[last_first : last_last + 1])
        if tail < min_chars:
            groups[-2:] = [(groups[-2][0], last_last)]
    return groups


def _split_long(
    text: str, max_chars: int
) -> Iterator[tuple[int, int, tuple[tuple[int, int], ...]]]:
    """(start, end, sentence offsets relative to start) of parts of ``text``, cut between
    sentences so that each part is at most ``max_chars`` where the sentences allow."""
    sentences = split_sentences(text)
    if not sentences:
        yield 0, len(text), ((0, len(text)),) if text else ()
        return
    if len(text) <= max_chars:
        yield 0, len(text), tuple(sentences)
        return
    part: list[tuple[int, int]] = []
    for sentence in sentences:
        if part and sentence[1] - part[0][0] > max_chars:
            yield _part(part)
            part = []
        part.append(sentence)
    if part:
        yield _part(part)


def _part(sentences: list[tuple[int, int]]) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    start, end = sentences[0][0], sentences[-1][1]
    return start, end, tuple((s - start, e - start) for s, e in sentences)


def iter_chunks(articles: list[Article]) -> Iterator[Chunk]:
    for article in articles:
        yield from chunk_article(article)
