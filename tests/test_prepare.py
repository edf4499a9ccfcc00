"""What the indexer's workers send back (retrieval.prepare) is what chunk_article, tokenize and
sentence_blob give, in the compact form the writer maps onto the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import retrieval.prepare as prepare_module
from retrieval.chunks import chunk_article
from retrieval.corpus import parse_file
from retrieval.documents import Article
from retrieval.prepare import PreparedBatch, prepare_articles, prepare_files
from retrieval.store import sentence_blob
from retrieval.tokenizer import tokenize

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"


def seed_article() -> Article:
    return parse_file(SEED.name, SEED.read_bytes()).articles[0]


def short_articles() -> list[Article]:
    return [
        Article("a.txt", "Harbour reopens", None, None, ("Ships returned to the harbour.",)),
        Article(
            "b.txt",
            "Storm warning",
            "https://example.com/b",
            "2017-04-12",
            ("A storm is coming. Ships stay in the harbour.", "Mr. Smith said so at 3 p.m."),
        ),
    ]


def decoded_chunks(batch: PreparedBatch) -> list[tuple]:
    """(doc_id, paragraph, text, start, end, sentences, terms) of every chunk of the batch."""
    ids = np.frombuffer(batch.token_ids, dtype=np.int32).tolist()
    ends = np.frombuffer(batch.token_ends, dtype=np.int32).tolist()
    sentence_ends = np.frombuffer(batch.sentence_ends, dtype=np.int32).tolist()
    numbers = np.frombuffer(batch.chunk_numbers, dtype=np.int32).reshape(-1, 3).tolist()
    counts = np.frombuffer(batch.chunk_counts, dtype=np.int32).tolist()
    doc_ids = [
        row[0] for row, count in zip(batch.articles, counts, strict=True) for _ in range(count)
    ]
    chunks, position, sentences_start = [], 0, 0
    for n, (doc_id, (paragraph, start, end), text) in enumerate(
        zip(doc_ids, numbers, batch.texts, strict=True)
    ):
        terms = [batch.terms[i] for i in ids[position : ends[n]]]
        sentences = batch.sentences[sentences_start : 4 * sentence_ends[n]]
        chunks.append((doc_id, paragraph, text, start, end, sentences, terms))
        position, sentences_start = ends[n], 4 * sentence_ends[n]
    return chunks


def expected_chunks(articles: list[Article]) -> list[tuple]:
    return [
        (
            chunk.doc_id,
            chunk.paragraph,
            chunk.text,
            chunk.start,
            chunk.end,
            sentence_blob(chunk.sentences),
            tokenize(article.title) + tokenize(chunk.text),
        )
        for article in articles
        for chunk in chunk_article(article)
    ]


def test_prepared_chunks_are_the_chunks_terms_and_sentences_of_the_article():
    articles = [seed_article(), *short_articles()]
    batch = prepare_articles(articles)
    assert decoded_chunks(batch) == expected_chunks(articles)
    assert batch.articles == [
        (a.doc_id, a.title, a.url, a.date, len(a.paragraphs)) for a in articles
    ]


def test_batch_terms_are_distinct_and_in_order_of_first_appearance():
    batch = prepare_articles(short_articles())
    flat = [term for chunk in decoded_chunks(batch) for term in chunk[-1]]
    assert batch.terms == list(dict.fromkeys(flat))


def test_batches_stay_right_when_the_encoder_is_renewed(monkeypatch):
    monkeypatch.setattr(prepare_module, "_ENCODER_MAX_WORDS", 3)
    for article in [*short_articles(), seed_article(), *short_articles()]:
        assert decoded_chunks(prepare_articles([article])) == expected_chunks([article])


def test_an_empty_batch():
    batch = prepare_articles([])
    assert batch.terms == [] and batch.articles == [] and batch.token_ids == b""


def test_prepare_files_reports_each_file_and_prepares_their_articles_in_order():
    records = [{"id": 7, "title": "First", "body": "One thing happened in the city."}]
    records.append({"id": 8, "title": "Second", "body": "Another thing happened later."})
    jsonl = "\n".join(json.dumps(record) for record in records).encode()
    files = [
        ("seed.txt", SEED.read_bytes()),
        ("blob.txt", b"\x00\x01\x02" * 100),
        ("records.jsonl", jsonl),
    ]
    outcomes, batch = prepare_files(files)
    parsed = [parse_file(rel_path, data) for rel_path, data in files]
    assert outcomes == [(p.warnings, len(p.articles)) for p in parsed]
    assert outcomes[1] == (["binary file"], 0)
    articles = [article for p in parsed for article in p.articles]
    assert decoded_chunks(batch) == expected_chunks(articles)
