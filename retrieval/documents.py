"""The shapes that flow through the pipeline: articles, chunks, retrieved passages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One cleaned article as the corpus reader produces it."""

    doc_id: (
        str  # stable: path relative to the corpus root, "#N" appended for records of a JSON file
    )
    title: str
    url: str | None
    date: str | None
    paragraphs: tuple[str, ...]  # cleaned, in reading order, none empty


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable unit: one paragraph, a short paragraph merged with its neighbour, or a part
    of a long paragraph cut at a sentence boundary."""

    doc_id: str
    title: str
    url: str | None
    paragraph: int  # 1-based number of the (first) paragraph, as a reader counts them
    text: str
    start: int  # offsets of ``text`` in the article body (paragraphs joined by "\n\n")
    end: int
    sentences: tuple[tuple[int, int], ...]  # sentence offsets within ``text``

    def __reduce__(self) -> tuple:
        # Batches of passages go to worker processes: the fields as they are pickle several
        # times faster than a frozen dataclass's default state.
        fields = (self.title, self.url, self.paragraph, self.text, self.start, self.end)
        return Chunk, (self.doc_id, *fields, self.sentences)


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk as retrieval returns it: with its row id in the store and its BM25 score."""

    chunk_id: int
    chunk: Chunk
    score: float
    rank: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    def __reduce__(self) -> tuple:
        return Passage, (self.chunk_id, self.chunk, self.score, self.rank, self.extra)
