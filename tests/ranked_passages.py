"""Passages of a one-article corpus ranked by BM25 for a question, as the engine hands them to
the answerer: for answerer tests on paragraphs written in the test."""

from __future__ import annotations

from retrieval.bm25 import BM25Index
from retrieval.chunks import chunk_article
from retrieval.documents import Article, Passage
from retrieval.tokenizer import tokenize


def ranked_passages(
    paragraphs: tuple[str, ...],
    question: str,
    doc_id: str = "test.txt",
    title: str = "Test article",
) -> tuple[list[Passage], BM25Index]:
    chunks = chunk_article(Article(doc_id, title, None, None, paragraphs))
    index = BM25Index.from_documents([tokenize(c.text) for c in chunks])
    doc_indexes, scores = index.top_k(tokenize(question), 10)
    passages = [
        Passage(chunk_id=int(i), chunk=chunks[int(i)], score=float(s), rank=rank)
        for rank, (i, s) in enumerate(zip(doc_indexes, scores, strict=True))
    ]
    return passages, index
