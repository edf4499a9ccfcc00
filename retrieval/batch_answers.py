"""Many questions at once (``newsbite ask -``): retrieval in this process, reading in workers.

Reading the passages (the answerer) is most of a question's cost (docs/benchmarks.md), and it
needs nothing but the passages and the index's term statistics. So forked worker processes,
which inherit the answerer and the index as they are, read tasks of questions while this
process retrieves the next ones and hands on the answers, in the order asked. The database
stays with this process alone. A task's questions are read together (Answerer.answer_many):
numpy's cost is mostly per call, and one call serves them all.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import TYPE_CHECKING

from retrieval.engine import QAEngine
from retrieval.worker_processes import abandon, can_fork, start_worker

if TYPE_CHECKING:
    from retrieval.answerer import Answerer
    from retrieval.answers import AnswerResult
    from retrieval.bm25 import BM25Index
    from retrieval.documents import Passage

# Questions per task: enough that handing them over, and numpy's cost per call, are shared
# by many, few enough that the first answers come soon.
BATCH_SIZE = 16
# What a forked worker reads with: set while a pool runs, inherited by its workers at fork.
_reader: tuple[Answerer, BM25Index] | None = None


def answer_all(
    engine: QAEngine,
    questions: Iterable[str],
    *,
    k: int,
    depth: int,
    workers: int,
    batch_size: int = BATCH_SIZE,
) -> Iterator[AnswerResult]:
    """``engine.answer(question, k=k, depth=depth)`` for each question, in order, read
    ``batch_size`` at a time (1: each answer as soon as its question is read) by ``workers``
    processes where this platform can fork them (else here). The workers read with the index
    the engine serves when the batch starts."""
    if workers <= 1 or not can_fork():
        remaining = iter(questions)
        while batch := list(islice(remaining, batch_size)):
            yield from engine.answer_many(batch, k=k, depth=depth)
        return
    global _reader
    _reader = (engine.answerer, engine.index)
    # What exists now (the index, the answerer, the word tables) lives as long as the workers:
    # their collector need not walk it, nor write to its pages (each write copies a page the
    # fork shares).
    gc.freeze()
    # Forked at the first task, before the pool starts its thread.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=start_worker,
        initargs=(os.getpid(),),
    )
    pending: deque[Future] = deque()
    finished = False
    try:
        remaining = iter(questions)
        while batch := list(islice(remaining, batch_size)):
            jobs = [(question, engine.retrieve(question, max(k, depth))) for question in batch]
            pending.append(pool.submit(_read, jobs, k))
            while len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
        finished = True
    except BrokenProcessPool as error:
        raise WorkerDied(
            "a worker process reading the questions died (killed, or out of memory?); "
            "--workers 1 reads them in one process"
        ) from error
    finally:
        _reader = None
        gc.unfreeze()
        if finished:
            pool.shutdown(wait=True)
        else:
            abandon(pool)


class WorkerDied(RuntimeError):
    """A worker process ended without finishing its questions."""


def _read(jobs: list[tuple[str, list[Passage]]], k: int) -> list[AnswerResult]:
    assert _reader is not None, "a batch worker must be forked from answer_all"
    answerer, index = _reader
    return answerer.answer_many(jobs, index, k)
