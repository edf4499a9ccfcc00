import os

import numpy as np
import pytest

from retrieval.indexer import refresh
from retrieval.store import Store


def test_first_run_indexes_every_file(small_corpus, tmp_path):
    store = Store(tmp_path / "index.db")
    summary = refresh(store, small_corpus)
    assert (summary.added, summary.updated, summary.removed) == (2, 0, 0)
    assert summary.articles == 2
    assert summary.paragraphs == summary.new_paragraphs > 0
    titles = {source.title for source in store.sources()}
    assert titles == {"Earthquake shakes coastal city", "Film festival opens with record crowds"}


def test_unchanged_files_are_not_parsed_again(small_corpus, tmp_path, monkeypatch):
    store = Store(tmp_path / "index.db")
    refresh(store, small_corpus)
    import retrieval.indexer as indexer

    def fail(*args, **kwargs):
        raise AssertionError("an unchanged file was parsed")

    monkeypatch.setattr(indexer, "parse_file", fail)
    os.utime(small_corpus / "quake.txt", ns=(1, 1))  # new mtime, same content
    summary = refresh(store, small_corpus)
    assert summary.unchanged == 2 and not summary.changed
    assert store.stored_files()["quake.txt"].mtime_ns == 1


def test_changed_file_is_replaced_and_deleted_file_removed(small_corpus, tmp_path):
    store = Store(tmp_path / "index.db")
    refresh(store, small_corpus)
    (small_corpus / "quake.txt").write_text(
        "Aftershock\n\nA strong aftershock hit the city again.\n"
    )
    (small_corpus / "festival.md").unlink()
    summary = refresh(store, small_corpus)
    assert (summary.added, summary.updated, summary.removed) == (0, 1, 1)
    assert [s.title for s in store.sources()] == ["Aftershock"]
    assert summary.paragraphs == 1


def test_bad_files_are_skipped_and_named(small_corpus, tmp_path):
    (small_corpus / "empty.txt").write_bytes(b"")
    (small_corpus / "image.png").write_bytes(b"\x89PNG\r\n")
    (small_corpus / "blob.txt").write_bytes(b"\x00\x01\x02" * 1000)
    store = Store(tmp_path / "index.db")
    summary = refresh(store, small_corpus)
    skipped = {s.rel_path for s in summary.skipped}
    assert {"empty.txt", "image.png", "blob.txt"} <= skipped
    assert summary.added == 2


def test_a_failed_refresh_leaves_the_store_as_it_was(small_corpus, tmp_path, monkeypatch):
    store = Store(tmp_path / "index.db")
    refresh(store, small_corpus)
    before = store.counts(), store.stored_files()
    (small_corpus / "new.txt").write_text(
        "New story\n\nSomething new happened in the city today.\n"
    )
    (small_corpus / "quake.txt").unlink()
    import retrieval.indexer as indexer

    real = indexer.write_articles

    def crash_midway(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(indexer, "write_articles", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        refresh(store, small_corpus)
    assert (store.counts(), store.stored_files()) == before


def test_parallel_preparation_stores_the_same_index(small_corpus, tmp_path, monkeypatch):
    import retrieval.indexer as indexer

    for n in range(6):
        (small_corpus / f"extra{n}.txt").write_text(f"Story {n}\n\nParagraph about topic {n}.\n")
    serial = Store(tmp_path / "serial.db")
    refresh(serial, small_corpus)
    monkeypatch.setattr(indexer, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(indexer, "BATCH_ARTICLES", 2)
    parallel = Store(tmp_path / "parallel.db")
    refresh(parallel, small_corpus)

    def chunk_terms(store: Store) -> list[tuple[str, ...]]:
        arrays = store.token_arrays()
        split = np.split(arrays.token_ids, np.cumsum(arrays.doc_lengths)[:-1])
        return sorted(tuple(arrays.vocabulary[i] for i in ids) for ids in split)

    assert chunk_terms(serial) == chunk_terms(parallel)
    assert serial.counts() == parallel.counts()


def test_a_folder_that_cannot_be_listed_keeps_its_articles(small_corpus, tmp_path, monkeypatch):
    sub = small_corpus / "archive"
    sub.mkdir()
    (sub / "old.txt").write_text("Old story\n\nSomething happened in the archive years ago.\n")
    store = Store(tmp_path / "index.db")
    assert refresh(store, small_corpus).added == 3
    real_scandir = os.scandir

    def failing_scandir(path):
        if os.fspath(path).endswith("archive"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing_scandir)
    summary = refresh(store, small_corpus)
    assert summary.removed == 0
    assert "archive/old.txt" in store.stored_files()
    assert any(skip.rel_path == "archive/" for skip in summary.skipped)


def test_a_file_with_the_same_size_and_mtime_is_not_read(small_corpus, tmp_path, monkeypatch):
    import retrieval.indexer as indexer

    store = Store(tmp_path / "index.db")
    refresh(store, small_corpus)

    def fail(*args, **kwargs):
        raise AssertionError("an unchanged file was read")

    monkeypatch.setattr(indexer, "read_file_bytes", fail)
    summary = refresh(store, small_corpus)
    assert summary.unchanged == 2 and not summary.changed
