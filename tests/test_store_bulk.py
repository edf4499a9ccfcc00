"""The store's rows-in-stored-form path (add_article_rows) stores what add_articles does,
with blobs given as bytes or as bytearrays."""

from __future__ import annotations

import numpy as np

from retrieval.documents import Article
from retrieval.store import Store, StoredFile, sentence_blob

ARTICLE = Article("a.txt", "Title", "https://x", "2017-04-12", ("One two.", "Two three. Four."))
SENTENCES = [((0, 8),), ((0, 10), (11, 16))]
TERM_IDS = [[0, 1], [1, 2, 3]]


def stored_rows(store: Store) -> list[tuple]:
    return store.db.execute(
        "SELECT a.doc_id, a.title, a.url, a.date, a.paragraphs, c.paragraph, c.text, c.start,"
        ' c."end", c.sentences, c.token_ids FROM chunks c JOIN articles a ON a.id = c.article_id'
        " ORDER BY c.id"
    ).fetchall()


def test_article_rows_with_bytearray_blobs_store_what_add_articles_stores():
    by_articles, by_rows = Store.in_memory(), Store.in_memory()
    with by_articles.transaction():
        by_articles.add_file(StoredFile("a.txt", "h", 1, 1))
        by_articles.add_articles(
            "a.txt",
            [ARTICLE],
            [
                [
                    (n + 1, text, 0, len(text), sentence_blob(sentences), np.array(ids))
                    for n, (text, sentences, ids) in enumerate(
                        zip(ARTICLE.paragraphs, SENTENCES, TERM_IDS, strict=True)
                    )
                ]
            ],
        )
    with by_rows.transaction():
        by_rows.add_file(StoredFile("a.txt", "h", 1, 1))
        by_rows.add_article_rows(
            ["a.txt"],
            [(ARTICLE.doc_id, ARTICLE.title, ARTICLE.url, ARTICLE.date, 2)],
            [
                [
                    (
                        n + 1,
                        text,
                        0,
                        len(text),
                        bytearray(sentence_blob(sentences)),
                        bytearray(np.array(ids, dtype=np.int32)),
                    )
                    for n, (text, sentences, ids) in enumerate(
                        zip(ARTICLE.paragraphs, SENTENCES, TERM_IDS, strict=True)
                    )
                ]
            ],
        )
    assert stored_rows(by_rows) == stored_rows(by_articles)
    assert by_rows.chunks([2])[2].sentences == ((0, 10), (11, 16))
    assert by_rows.token_arrays().token_ids.tolist() == [0, 1, 1, 2, 3]


def test_sentence_blob_is_int32_offsets():
    assert sentence_blob([(3, 9), (10, 70000)]) == np.array([3, 9, 10, 70000], np.int32).tobytes()
    assert sentence_blob([]) == b""
