"""Corpus faults seen from the engine: a reload never aborts halfway or mixes indexes."""

import shutil

import pytest

import retrieval.indexer as indexer_module
from retrieval.corpus import CorpusNotFound


def test_bad_files_are_skipped_and_reported_by_reload(engine, seeds_corpus):
    (seeds_corpus / "latin1.txt").write_bytes(
        "Caf\xe9 opens\n\nThe caf\xe9 opened.\n".encode("latin-1")
    )
    (seeds_corpus / "empty.txt").write_bytes(b"")
    (seeds_corpus / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (seeds_corpus / "loop").symlink_to(seeds_corpus)
    summary = engine.reload()
    skipped = {s.rel_path: s.reason for s in summary.skipped}
    assert "empty.txt" in skipped and "binary.txt" in skipped
    assert summary.added == 1  # the Latin-1 file, read with its bad bytes replaced
    assert engine.retrieve("café opened", k=1)[0].chunk.doc_id == "latin1.txt"


def test_corpus_folder_that_disappears_keeps_the_old_index(engine, seeds_corpus):
    shutil.rmtree(seeds_corpus)
    with pytest.raises(CorpusNotFound):
        engine.reload()
    assert engine.retrieve("Tillerson", k=1)
    assert engine.article_count == 1


def test_file_vanishing_during_indexing_is_skipped(engine, seeds_corpus, monkeypatch):
    (seeds_corpus / "brief.txt").write_text("Brief\n\nA short item about the harbour opening.\n")
    real_read = indexer_module.read_file_bytes

    def vanish(file, *args, **kwargs):
        if file.rel_path == "brief.txt":
            file.path.unlink()
        return real_read(file, *args, **kwargs)

    monkeypatch.setattr(indexer_module, "read_file_bytes", vanish)
    summary = engine.reload()
    assert any(s.rel_path == "brief.txt" for s in summary.skipped)
    assert engine.article_count == 1


def test_failure_in_the_middle_of_a_reload_leaves_no_mixed_index(engine, seeds_corpus, monkeypatch):
    for n in range(3):
        (seeds_corpus / f"new{n}.txt").write_text(f"New {n}\n\nHarbour story number {n}.\n")
    real_parse = indexer_module.parse_file
    calls = []

    def fail_on_third(rel_path, data):
        calls.append(rel_path)
        if len(calls) == 3:
            raise MemoryError("simulated")
        return real_parse(rel_path, data)

    monkeypatch.setattr(indexer_module, "parse_file", fail_on_third)
    with pytest.raises(MemoryError):
        engine.reload()
    assert engine.article_count == 1
    assert engine.retrieve("harbour story", k=1) == []
    monkeypatch.setattr(indexer_module, "parse_file", real_parse)
    assert engine.reload().added == 3
    assert engine.article_count == 4
