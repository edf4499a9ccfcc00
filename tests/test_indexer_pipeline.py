"""Indexing with worker processes leaves the store exactly as indexing in one process does,
whatever the batching; a progress callback that raises stops the workers."""

from __future__ import annotations

import gc
import json
import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest
from processes import is_running

import retrieval.index_pipeline as pipeline_module
import retrieval.indexer as indexer
from retrieval.corpus import list_corpus_files
from retrieval.documents import Article
from retrieval.index_pipeline import Limits, PendingFile, Pipeline, _Step
from retrieval.index_writer import StoreWriter
from retrieval.indexer import IndexSummary, refresh, write_articles
from retrieval.prepare import prepare_articles
from retrieval.store import Store, StoredFile

TABLES = {
    "files": "SELECT rel_path, content_hash, size FROM files ORDER BY rel_path",
    "articles": "SELECT * FROM articles ORDER BY id",
    "chunks": "SELECT * FROM chunks ORDER BY id",
    "terms": "SELECT * FROM terms ORDER BY id",
}


def dump(store: Store) -> dict[str, list[tuple]]:
    return {table: store.db.execute(query).fetchall() for table, query in TABLES.items()}


def story(n: int) -> str:
    paragraphs = [
        f"Story {n} tells how the harbour of town {n} reopened after the storm.",
        "Short line.",
        f"Officials said {n * 3} ships, worth ${n}.5 million, returned on Tuesday. Mr. Lee agreed.",
    ]
    return f"Harbour news {n}\n\n" + "\n\n".join(paragraphs) + "\n"


def records(first: int, count: int) -> bytes:
    lines = [
        json.dumps({"id": n, "title": f"Brief {n}", "body": f"Brief number {n} on grain {n}."})
        for n in range(first, first + count)
    ]
    return "\n".join(lines).encode()


def mixed_records(edition: str) -> bytes:
    """Records with everything a reader must count across the whole file: blank and bad
    lines, values that are not objects, records without text, and an id used twice (so
    records are keyed by position)."""
    lines = ["", json.dumps({"id": "m1", "title": "Mixed one", "body": f"The {edition} note."})]
    lines += ["not json", "[1, 2]", json.dumps({"id": "m2", "title": "Untold"}), ""]
    for n in range(3, 9):
        body = f"Mixed note {n} of the {edition} edition: the ferry ran {n} times."
        lines.append(json.dumps({"id": f"m{n}", "title": f"Mixed {n}", "body": body}))
        lines.append("{broken" if n % 2 else "")
    lines.append(json.dumps({"id": "m1", "title": "Mixed again", "body": "The id repeats."}))
    return "\n".join(lines).encode()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    for n in range(7):
        (root / f"story{n}.txt").write_text(story(n))
    (root / "sub" / "notes.md").write_text("# Market notes\n\nTrading was *quiet* on Friday.\n")
    (root / "a_big.jsonl").write_bytes(records(0, 12))  # big: read in parts
    (root / "z_big.jsonl").write_bytes(records(100, 9))
    (root / "mixed.jsonl").write_bytes(mixed_records("first"))
    # Big and not JSON Lines: parsed whole, ahead of the rest, its articles prepared in batches.
    (root / "list_big.json").write_bytes(b"[" + records(200, 8).replace(b"\n", b",") + b"]")
    (root / "untold.jsonl").write_bytes(b'{"id": 1, "title": "No body at all"}\n' * 15)
    (root / "latin1.txt").write_bytes("Café\n\nThe café opened at dawn.\n".encode("latin-1"))
    (root / "binary.txt").write_bytes(b"\x00\x01\x02" * 50)  # skipped when parsed
    (root / "nothing.json").write_text("[]")  # skipped when parsed: no records
    return root


@pytest.fixture
def with_workers(monkeypatch):
    """Worker processes for any change, tiny batches, and a "big file" of a few hundred bytes."""

    def enable() -> None:
        monkeypatch.setattr(indexer, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(indexer, "BATCH_ARTICLES", 3)
        monkeypatch.setattr(indexer, "BATCH_BYTES", 400)

    return enable


def summary_fields(summary: IndexSummary) -> tuple:
    return (
        summary.added,
        summary.updated,
        summary.removed,
        summary.unchanged,
        summary.skipped,
        summary.notes,
        summary.articles,
        summary.paragraphs,
        summary.new_paragraphs,
    )


def change(corpus: Path) -> None:
    (corpus / "story1.txt").write_text(story(101))
    (corpus / "story2.txt").unlink()
    (corpus / "story9.txt").write_text(story(9))
    (corpus / "a_big.jsonl").write_bytes(records(0, 11) + b"\n" + records(50, 2))
    (corpus / "mixed.jsonl").write_bytes(mixed_records("second"))


def test_workers_store_exactly_what_one_process_stores(corpus, tmp_path, with_workers):
    serial = Store(tmp_path / "serial.db")
    serial_summaries = [summary_fields(refresh(serial, corpus))]
    change(corpus)
    serial_summaries.append(summary_fields(refresh(serial, corpus)))
    serial_dump = dump(serial)

    for n, db in enumerate(["rebuilt.db", "parallel.db"]):
        # The same two updates with workers: the first index, then the changes on top.
        (corpus / "story1.txt").write_text(story(1))
        (corpus / "story2.txt").write_text(story(2))
        (corpus / "story9.txt").unlink()
        (corpus / "a_big.jsonl").write_bytes(records(0, 12))
        (corpus / "mixed.jsonl").write_bytes(mixed_records("first"))
        if n:
            with_workers()
        store = Store(tmp_path / db)
        summaries = [summary_fields(refresh(store, corpus))]
        change(corpus)
        summaries.append(summary_fields(refresh(store, corpus)))
        assert summaries == serial_summaries
        assert dump(store) == serial_dump

    added, _, _, _, skipped, notes, *_ = serial_summaries[0]
    assert added == 13
    assert [s.rel_path for s in skipped] == ["binary.txt", "nothing.json", "untold.jsonl"]
    assert skipped[-1].reason == "15 records without text skipped"
    assert notes == [
        "latin1.txt: invalid UTF-8 bytes replaced (2 bytes read as Windows-1252)",
        "mixed.jsonl: line 3: invalid JSON",
        "mixed.jsonl: line 8: invalid JSON",
        "mixed.jsonl: line 12: invalid JSON",
        "mixed.jsonl: line 16: invalid JSON",
        "mixed.jsonl: 1 record not objects, skipped",
        "mixed.jsonl: 1 record without text skipped",
    ]
    assert serial_summaries[1][:3] == (1, 3, 1)  # added, updated, removed
    doc_ids = [row[1] for row in serial_dump["articles"] if row[1].startswith("mixed.jsonl")]
    assert doc_ids[:2] == ["mixed.jsonl#1", "mixed.jsonl#5"]


def test_workers_are_forked_only_when_no_other_thread_runs(corpus, tmp_path, with_workers):
    """A process with threads (the bot, reloading from one) spawns its workers: forking it
    could copy a lock that another thread holds. The store is the same either way."""
    with_workers()
    methods: list[str] = []
    alone: list[bool] = []  # no other thread when the workers were started
    real_start_method = pipeline_module._start_method

    def recorded_start_method() -> str:
        alone.append(threading.active_count() == 1)
        methods.append(real_start_method())
        return methods[-1]

    stores = {}

    def index(name: str) -> None:
        stores[name] = Store(tmp_path / f"{name}.db")
        refresh(stores[name], corpus)

    pipeline_module._start_method = recorded_start_method
    try:
        index("main_thread")
        thread = threading.Thread(target=index, args=("from_a_thread",))
        thread.start()
        thread.join(60)
    finally:
        pipeline_module._start_method = real_start_method
    linux = sys.platform.startswith("linux")
    assert alone[1] is False  # the second index ran beside this test's main thread
    assert methods == ["fork" if linux and single else "spawn" for single in alone]
    assert dump(stores["from_a_thread"]) == dump(stores["main_thread"])


def test_the_collector_is_paused_while_indexing_and_back_after(corpus, tmp_path, with_workers):
    with_workers()
    during: list[bool] = []
    assert gc.isenabled()
    pipeline_module._join_retired()  # the pools of earlier tests: their threads gone
    alone = threading.active_count() == 1  # the writer pauses the collector only then
    refresh(Store(tmp_path / "index.db"), corpus, lambda *_: during.append(gc.isenabled()))
    assert gc.isenabled()
    assert during and not any(during) if alone else all(during)
    pool = pipeline_module.worker_pool()
    try:
        # A worker collects between tasks, not during them.
        assert pool.submit(gc.isenabled).result(timeout=60) is False
    finally:
        pool.shutdown()


def test_a_raising_progress_callback_rolls_back_and_stops_the_workers(
    corpus, tmp_path, with_workers, monkeypatch
):
    with_workers()
    shutdowns = []

    class RecordingPool(ProcessPoolExecutor):
        def shutdown(self, wait=True, *, cancel_futures=False):
            shutdowns.append((wait, cancel_futures))
            super().shutdown(wait=wait, cancel_futures=cancel_futures)

    pools = []

    def worker_pool() -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        pools.append(RecordingPool(max_workers=2, mp_context=context))
        return pools[-1]

    monkeypatch.setattr(pipeline_module, "worker_pool", worker_pool)
    calls = []

    def progress(stage: str, done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 4:
            raise KeyboardInterrupt("stop")

    store = Store(tmp_path / "index.db")
    with pytest.raises(KeyboardInterrupt):
        refresh(store, corpus, progress)
    pools[0].shutdown(wait=True)  # let this test's workers end before the next test
    assert shutdowns[0] == (False, True)  # queued batches dropped, not waited for
    assert store.counts() == (0, 0) and store.stored_files() == {}
    assert refresh(store, corpus).added == 13  # nothing was left half done


def test_progress_counts_bytes_and_moves_within_a_file_read_in_parts(
    corpus, tmp_path, with_workers
):
    with_workers()
    reports: list[tuple[str, int, int]] = []
    refresh(Store(tmp_path / "index.db"), corpus, lambda *report: reports.append(report))
    files, _ = list_corpus_files(corpus)
    assert {total for _, _, total in reports} == {sum(file.size for file in files)}
    done = [done for _, done, _ in reports]
    assert done == sorted(done) and done[-1] == reports[-1][2]
    # mixed.jsonl and a_big.jsonl move it along part by part, not only once each
    assert len(set(done)) > len(files) + 2


def test_progress_is_reported_while_waiting_for_a_worker():
    pending: Future = Future()
    ticks = []

    def tick(bytes_done: int = 0) -> None:
        ticks.append(bytes_done)
        if len(ticks) == 3:
            pending.set_result("prepared")

    limits = Limits(batch_articles=1, batch_bytes=1, in_flight=1, progress_seconds=0.001)
    pipeline = Pipeline(None, tick, limits, parse=None, parallel=False)
    step = _Step("articles", [], future=pending)
    assert pipeline._result(step) == "prepared"
    assert ticks == [0, 0, 0]


def test_an_article_id_repeated_in_a_file_is_stored_once_and_adds_no_terms(tmp_path):
    first = Article("x.jsonl#1", "Grain prices", None, None, ("Wheat and barley rose.",))
    repeat = Article("x.jsonl#1", "Zebra", None, None, ("Quokka sightings doubled.",))
    other = Article("x.jsonl#2", "Barley", None, None, ("Barley fell again later.",))
    stored = StoredFile("x.jsonl", "hash", 1, 1)

    written = Store(tmp_path / "written.db")
    writer = StoreWriter(written, IndexSummary())
    file = PendingFile(stored, False, [])
    with written.transaction():
        writer.write(file, True, prepare_articles([first]), range(1))
        writer.write(file, False, prepare_articles([repeat, other]), range(2))

    expected = Store(tmp_path / "expected.db")
    with expected.transaction():
        write_articles(expected, [PendingFile(stored, False, [first, other])])
    assert dump(written) == dump(expected)
    assert not {"zebra", "quokka"} & {term for _, term in dump(written)["terms"]}


OWNER_KILLED_OUTRIGHT = """
import os, signal, sys
from retrieval.index_pipeline import worker_pool
pool = worker_pool()
pids = {pool.submit(os.getpid).result() for _ in range(20)}
print(" ".join(map(str, sorted(pids))), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_leave_when_their_owner_is_killed_outright():
    """Workers ignore stop signals (the owner ends them), so an owner killed by SIGKILL, or by
    a SIGTERM it does not handle, must not leave them behind."""
    owner = subprocess.run(
        [sys.executable, "-c", OWNER_KILLED_OUTRIGHT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert owner.returncode == -signal.SIGKILL
    workers = [int(pid) for pid in owner.stdout.split()]
    assert workers
    deadline = time.monotonic() + 30  # a generous bound, not a timing: they poll every 0.5 s
    while (alive := [pid for pid in workers if is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive == []
