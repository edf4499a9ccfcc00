import numpy as np
import pytest

from retrieval.documents import Article
from retrieval.store import Store, StoredFile, StoreError, sentence_blob


def chunk(text: str, paragraph: int, term_ids: list[int]):
    return paragraph, text, 0, len(text), sentence_blob([(0, len(text))]), np.array(term_ids)


def put_file(store: Store, stored: StoredFile, article: Article, chunks) -> None:
    with store.transaction():
        store.remove_file(stored.rel_path)
        store.add_file(stored)
        store.add_articles(stored.rel_path, [article], [chunks])


def test_put_and_read_back_chunks_and_token_arrays():
    store = Store.in_memory()
    article = Article("a.txt", "Title", "https://x", "2017-04-12", ("One two.", "Two."))
    put_file(
        store,
        StoredFile("a.txt", "h1", 10, 1),
        article,
        [chunk("One two.", 1, [0, 1]), chunk("Two.", 2, [1])],
    )
    store.add_terms([(0, "one"), (1, "two")])
    arrays = store.token_arrays()
    assert arrays.vocabulary == ["one", "two"]
    assert arrays.doc_lengths.tolist() == [2, 1]
    assert arrays.token_ids.tolist() == [0, 1, 1]
    chunks = store.chunks(arrays.chunk_ids.tolist())
    assert [c.text for c in chunks.values()] == ["One two.", "Two."]
    assert chunks[int(arrays.chunk_ids[0])].url == "https://x"
    assert store.counts() == (1, 2)
    assert store.stored_files()["a.txt"].content_hash == "h1"


def test_replacing_a_file_removes_its_old_chunks():
    store = Store.in_memory()
    for digest, texts in (("h1", ["Old."]), ("h2", ["New.", "Newer."])):
        article = Article("a.txt", "Title", None, None, tuple(texts))
        chunks = [chunk(t, 1, [0]) for t in texts]
        put_file(store, StoredFile("a.txt", digest, 1, 1), article, chunks)
    assert store.counts() == (1, 2)
    with store.transaction():
        store.remove_file("a.txt")
    assert store.counts() == (0, 0)
    assert store.stored_files() == {}


def test_missing_chunk_ids_are_left_out():
    assert Store.in_memory().chunks([1, 2, 3]) == {}


def test_wal_mode_on_disk(tmp_path):
    store = Store(tmp_path / "sub" / "index.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the index database"):
        Store(path)


def test_other_schema_version_asks_for_rebuild(tmp_path):
    path = tmp_path / "index.db"
    store = Store(path)
    store.set_meta("schema_version", "0")
    store.close()
    with pytest.raises(StoreError, match="--rebuild"):
        Store(path)
