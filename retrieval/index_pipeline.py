"""The indexer's work plan: parse, chunk and tokenize in worker processes, write in order.

Changed files become steps: small files are parsed and prepared a group at a time; a big JSON
Lines file is cut into parts, each parsed and prepared by one worker; any other big file is
parsed alone and its articles prepared in batches. A bounded number of steps is handed to
the workers ahead of the writer, which takes their results in corpus order, so the store ends
up exactly as a serial run would leave it. A small update runs the same steps in this process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from retrieval import corpus
from retrieval.corpus import ParsedFile
from retrieval.documents import Article
from retrieval.json_reader import JsonlPart
from retrieval.prepare import (
    FileOutcome,
    PreparedBatch,
    prepare_articles,
    prepare_files,
    prepare_jsonl_part,
)
from retrieval.worker_processes import (
    abandon,
    can_fork,
    default_worker_count,
    only_thread,
    start_worker,
)

if TYPE_CHECKING:
    # A type only: importing the store (and sqlite_utils) would slow every worker's start-up.
    from retrieval.store import StoredFile


@dataclass
class PendingFile:
    """A file whose articles are already in hand."""

    stored: StoredFile
    replace: bool
    articles: list[Article]


@dataclass
class ChangedFile:
    """A new or changed file, still to be parsed."""

    stored: StoredFile
    previous: StoredFile | None
    data: bytes

    @property
    def replace(self) -> bool:
        return self.previous is not None


IndexFile = PendingFile | ChangedFile


@dataclass(frozen=True)
class Limits:
    batch_articles: int  # articles (or small files) per batch, at most
    batch_bytes: int  # text per batch, about; a bigger file is parsed on its own
    in_flight: int  # batches handed out ahead of the writer
    progress_seconds: float  # the longest wait for a worker between two ticks


class Writer(Protocol):
    def accept(self, file: IndexFile, warnings: list[str], articles: int) -> bool: ...

    def write(
        self, file: IndexFile, first: bool, batch: PreparedBatch, articles: range
    ) -> None: ...

    def write_many(
        self, writes: list[tuple[IndexFile, bool, range]], batch: PreparedBatch
    ) -> None: ...

    def write_part(
        self, file: ChangedFile, first: bool, part: JsonlPart, batch: PreparedBatch
    ) -> None: ...

    def finish_parts(self, file: ChangedFile) -> None: ...


class Ticker(Protocol):
    def __call__(self, bytes_done: int = 0) -> None: ...


@dataclass
class _Step:
    """One call for a worker, and what its result is written to."""

    kind: Literal["files", "parse", "articles", "part"]
    files: list[IndexFile]
    articles: list[Article] = field(default_factory=list)  # for "articles"
    first: bool = True  # ("articles", "part") the file's first batch
    last: bool = True  # ("articles", "part") the file's last batch
    part: tuple[int, int, int] = (0, 0, 1)  # ("part") start, end, first line in the file
    future: Future | None = None


class InlineExecutor(Executor):
    """Runs each call at once, in this process: for an update too small to repay workers."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _start_worker(owner_pid: int) -> None:
    start_worker(owner_pid)
    # A task allocates hundreds of thousands of small objects, which the collector would scan
    # again and again as they survive; almost none are in a cycle. So no collection while a
    # task runs, one after it (_collected), and what the worker holds for good (modules, and a
    # forked worker's copy of its owner) is never scanned.
    gc.disable()
    gc.freeze()


def _collected(fn: Callable, /, *args):
    try:
        return fn(*args)
    finally:
        gc.collect()  # a parsed HTML page is a tree of cycles


class _WorkerPool(ProcessPoolExecutor):
    """Worker processes that collect their garbage between tasks, not during them."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return super().submit(_collected, fn, *args, **kwargs)


def worker_pool() -> ProcessPoolExecutor:
    context = multiprocessing.get_context(_start_method())
    return _WorkerPool(
        max_workers=default_worker_count(),
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def _start_method() -> str:
    """fork when this process has no other thread (``newsbite index``), on Linux: a forked
    worker starts at once, where a spawned one first spends 0.3 s of a core importing numpy
    and the rest (cold index of the news corpora: 0.7 s less CPU in all, 0.2 s less time).
    spawn otherwise: forking a process with threads (the bot reloads from one) can copy a
    lock some thread holds, and macOS's system libraries do not survive a fork. Never a
    forkserver: a stop signal sent to the process group kills the server, the pool then
    believes its living workers dead, cannot kill them, and its thread (joined at exit)
    blocks on a full pipe: a hung shutdown."""
    return "fork" if can_fork() else "spawn"


# The threads that wind down pools whose work is done, while their workers exit. Waiting for
# them took 0.2 s at the end of every big update, with nothing else running; the writer's
# commit and sync overlap with it instead. Joined by the next update (so that it sees no other
# thread and may fork), or by the interpreter's exit.
_retiring: list[threading.Thread] = []
_retiring_lock = threading.Lock()


def _retire(executor: Executor) -> None:
    # shutdown(wait=False) forgets the pool's thread: kept here to join it later.
    thread = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False)
    if isinstance(thread, threading.Thread):
        with _retiring_lock:
            _retiring.append(thread)


def _join_retired() -> None:
    with _retiring_lock:
        threads = _retiring[:]
        _retiring.clear()
    for thread in threads:
        thread.join()


class Pipeline:
    """Hands steps to an executor ahead of the writer and writes their results in order.

    ``tick()`` is called before every write and at least every ``progress_seconds`` while
    waiting for a worker; ``tick(bytes_done=n)`` as n more bytes of the files are written or
    skipped: a whole file's once it is done, a part's for a file read in parts. An
    exception from either ends the run; queued work is then dropped, not waited for.
    """

    def __init__(
        self,
        writer: Writer,
        tick: Ticker,
        limits: Limits,
        parse: Callable[[str, bytes], ParsedFile],
        parallel: bool,
    ) -> None:
        self.writer = writer
        self.tick = tick
        self.limits = limits
        self.parse = parse  # the parser for this process; workers use corpus.parse_file
        self.parallel = parallel
        self._parsing: dict[str, Future] = {}  # parse_first files' parses, by rel_path
        self._parts: dict[str, list[tuple[int, int, int]] | None] = {}  # jsonl_parts, by rel_path

    def run(self, files: Iterable[IndexFile], parse_first: Iterable[ChangedFile] = ()) -> None:
        """Write ``files`` (read lazily, in order); the files of ``parse_first``, which must
        come in ``files`` too, are handed out for parsing before anything else."""
        _join_retired()
        pause_collector = self.parallel and only_thread() and gc.isenabled()
        executor = worker_pool() if self.parallel else InlineExecutor()
        window = self.limits.in_flight if self.parallel else 1
        steps = self._steps(iter(files))
        queue: deque[_Step] = deque()
        finished = False
        if pause_collector:
            # The writer takes in the workers' results: millions of small tuples, none in a
            # cycle, that each of the collector's passes would scan again. Paused only where
            # no other thread's garbage would wait for it too.
            gc.disable()
        try:
            for file in parse_first:
                if self._jsonl_parts(file) is None:  # parts need no head start
                    self._parsing[file.stored.rel_path] = self._submit(
                        executor, _Step("parse", [file])
                    ).future
            while True:
                while len(queue) < window and (step := next(steps, None)) is not None:
                    queue.append(self._submit(executor, step))
                if not queue:
                    break
                step = queue.popleft()
                result = self._result(step)
                if step.kind == "parse":
                    # The parsed file's batches go to the front: they are written next. All
                    # are handed out at once, which the cap on a file's size keeps bounded.
                    batches = self._parsed(step.files[0], result)
                    queue.extendleft(reversed([self._submit(executor, b) for b in batches]))
                elif step.kind == "files":
                    self._write_files(step, *result)
                elif step.kind == "part":
                    self._write_part(step, *result)
                else:
                    self._write_articles(step, result)
            finished = True
        finally:
            if pause_collector:
                # Re-enabled as it was, the collector would at once scan every object the run
                # left alive, in a pass of 0.2 s (news corpora) that finds no garbage: they are
                # set aside instead, and still freed when no longer referenced.
                gc.freeze()
                gc.enable()
            if finished:
                _retire(executor)
            else:
                abandon(executor)

    def _steps(self, files: Iterator[IndexFile]) -> Iterator[_Step]:
        group: list[IndexFile] = []
        group_bytes = 0
        for file in files:
            if isinstance(file, ChangedFile) and len(file.data) <= self.limits.batch_bytes:
                group.append(file)
                group_bytes += len(file.data)
                if (
                    len(group) >= self.limits.batch_articles
                    or group_bytes >= self.limits.batch_bytes
                ):
                    yield _Step("files", group)
                    group, group_bytes = [], 0
                continue
            if group:
                yield _Step("files", group)
                group, group_bytes = [], 0
            if isinstance(file, ChangedFile):
                parts = self._jsonl_parts(file)
                if parts is None:
                    yield _Step("parse", [file])
                else:
                    for n, part in enumerate(parts):
                        yield _Step(
                            "part", [file], first=n == 0, last=n == len(parts) - 1, part=part
                        )
            else:
                yield from self._article_steps(file, file.articles)
        if group:
            yield _Step("files", group)

    def _jsonl_parts(self, file: ChangedFile) -> list[tuple[int, int, int]] | None:
        rel_path = file.stored.rel_path
        if rel_path not in self._parts:
            self._parts[rel_path] = corpus.jsonl_parts(rel_path, file.data, self.limits.batch_bytes)
        return self._parts[rel_path]

    def _article_steps(self, file: IndexFile, articles: list[Article]) -> list[_Step]:
        batches: list[list[Article]] = [[]]
        batch_bytes = 0
        for article in articles:
            if (
                len(batches[-1]) >= self.limits.batch_articles
                or batch_bytes >= self.limits.batch_bytes
            ):
                batches.append([])
                batch_bytes = 0
            batches[-1].append(article)
            batch_bytes += sum(map(len, article.paragraphs))
        return [
            _Step("articles", [file], batch, first=n == 0, last=n == len(batches) - 1)
            for n, batch in enumerate(batches)
        ]

    def _submit(self, executor: Executor, step: _Step) -> _Step:
        if step.kind == "articles":
            step.future = executor.submit(prepare_articles, step.articles)
            return step
        files = [(file.stored.rel_path, file.data) for file in step.files]  # ChangedFiles
        if step.kind == "part":
            (rel_path, data), (start, end, first_line) = files[0], step.part
            step.future = executor.submit(prepare_jsonl_part, rel_path, data[start:end], first_line)
            return step
        inline = isinstance(executor, InlineExecutor)
        if step.kind == "parse":
            step.future = self._parsing.pop(files[0][0], None)  # handed out already?
            if step.future is None:
                parse = self.parse if inline else corpus.parse_file
                step.future = executor.submit(parse, *files[0])
        elif inline:
            step.future = executor.submit(prepare_files, files, self.parse)
        else:
            step.future = executor.submit(prepare_files, files)
        return step

    def _result(self, step: _Step):
        assert step.future is not None
        while not step.future.done():
            wait([step.future], timeout=self.limits.progress_seconds)
            self.tick()
        return step.future.result()

    def _parsed(self, file: IndexFile, parsed: ParsedFile) -> list[_Step]:
        if not self.writer.accept(file, parsed.warnings, len(parsed.articles)):
            self.tick(bytes_done=file.stored.size)
            return []
        return self._article_steps(file, parsed.articles)

    def _write_files(self, step: _Step, outcomes: list[FileOutcome], batch: PreparedBatch) -> None:
        writes = []
        position = 0
        for file, (warnings, articles) in zip(step.files, outcomes, strict=True):
            if self.writer.accept(file, warnings, articles):
                writes.append((file, True, range(position, position + articles)))
            position += articles
        self.tick()
        if writes:
            self.writer.write_many(writes, batch)
        for file in step.files:
            self.tick(bytes_done=file.stored.size)

    def _write_part(self, step: _Step, part: JsonlPart, batch: PreparedBatch) -> None:
        file = step.files[0]
        assert isinstance(file, ChangedFile)
        self.tick()
        self.writer.write_part(file, step.first, part, batch)
        if step.last:
            self.writer.finish_parts(file)
        start, end, _ = step.part
        self.tick(bytes_done=end - start)

    def _write_articles(self, step: _Step, batch: PreparedBatch) -> None:
        self.tick()
        self.writer.write(step.files[0], step.first, batch, range(len(batch.articles)))
        if step.last:
            self.tick(bytes_done=step.files[0].stored.size)
