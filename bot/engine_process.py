"""The QA engine in a child process, so that answering runs on a second core beside the bot.

In one process, python-telegram-bot's event loop and the engine's threads take turns holding
one interpreter lock: a bot on a 2-core machine then tops out near one core, about 60 answers
per second. Here the child process holds the index and answers; the bot's process keeps the
Telegram side and the index updates (at start and on /reload, in the store both share), and
then tells the child to reopen the store. Questions are answered all along, from the snapshot
the child has open; under load, the questions waiting in the pipe are read together (cheaper
per question, the same answers).

``EngineProcess`` offers what the handlers use of ``QAEngine``: ``answer``, ``sources``,
``reload``, ``article_count``, ``chunk_count``, ``db_path`` and ``close``. Requests and results
cross a pipe, pickled; exceptions raised in the child are raised again in the caller.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from retrieval.answerer import RERANK_DEPTH
from retrieval.answers import AnswerResult
from retrieval.engine import ReloadInProgress, prepare_store
from retrieval.index_update import update_index
from retrieval.indexer import IndexSummary, Progress
from retrieval.store import SourceInfo

# Threads for reopening the store in the child (answers are worked on as they come).
CHILD_THREADS = 1
# Questions answered together, at most, when they wait in the pipe at once (as a batch of
# `newsbite ask -` is read: retrieval.batch_answers).
ANSWER_BATCH = 16
START_TIMEOUT_SECONDS = 300.0  # loading a 1M-paragraph index takes about half a minute
STOP_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger(__name__)


class EngineProcessError(RuntimeError):
    """The engine's process has died or could not start."""


class EngineProcess:
    def __init__(
        self,
        db_path: Path,
        corpus: Path,
        *,
        no_answer_threshold: float | None = None,
        cancel: threading.Event | None = None,
        log_level: str = "INFO",
    ) -> None:
        """Bring the store up to date with ``corpus`` here (``cancel`` stops that), then start
        the child on it. Raises what QAEngine.open raises, or EngineProcessError."""
        self.db_path = db_path
        self.corpus = corpus
        self.warnings = prepare_store(corpus, db_path, cancel=cancel)
        self._child_args = (db_path, no_answer_threshold, log_level)
        self._reload_lock = threading.Lock()
        self._restart_lock = threading.Lock()
        self._closed = False
        self._child = _Child(*self._child_args)
        self.article_count, self.chunk_count = self._child.counts

    # -- what the handlers call ---------------------------------------------------------------

    def answer(
        self,
        question: str,
        k: int = 3,
        depth: int = RERANK_DEPTH,
        short_answers: int | None = None,
    ) -> AnswerResult:
        return self._call("answer", question, k, depth, short_answers)

    def sources(self) -> list[SourceInfo]:
        return self._call("sources")

    def reload(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> IndexSummary:
        """QAEngine.reload, split: the index update runs here, then the child reopens."""
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadInProgress("a reload is already running")
        try:
            summary = update_index(self.db_path, self.corpus, progress, cancel)
            self.article_count, self.chunk_count = self._call("reopen")
            return summary
        finally:
            self._reload_lock.release()

    def close(self) -> None:
        self._closed = True
        self._child.stop()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        child = self._child
        if child.dead is not None and not self._closed:
            child = self._restart(child)
        return child.call(method, *args, **kwargs)

    def _restart(self, dead: _Child) -> _Child:
        """A new child in place of one that died (the questions it had are lost: they get
        the apology); the first caller to find it dead starts it, the others wait for it."""
        with self._restart_lock:
            if self._child is dead and not self._closed:
                logger.warning("starting a new engine process (%s)", dead.dead)
                dead.stop()
                self._child = _Child(*self._child_args)
                self.article_count, self.chunk_count = self._child.counts
            return self._child


class _Child:
    """One engine process and the pipe to it."""

    def __init__(self, db_path: Path, no_answer_threshold: float | None, log_level: str) -> None:
        self._send_lock = threading.Lock()
        self._wait_lock = threading.Lock()  # see _join
        self._pending: dict[int, Future] = {}
        self._pending_lock = threading.Lock()
        self._request_ids = itertools.count()
        self.dead: str | None = None  # why requests can no longer be sent
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_child_main,
            args=(child_conn, db_path, no_answer_threshold, log_level),
            name="newsbite-engine",
            daemon=True,
        )
        self._process.start()
        child_conn.close()
        try:
            if not self._conn.poll(START_TIMEOUT_SECONDS):
                raise EngineProcessError("the engine process did not start in time")
            status, value = self._conn.recv()
        except (EOFError, OSError) as error:
            self._process.join(STOP_TIMEOUT_SECONDS)
            raise EngineProcessError("the engine process died while starting") from error
        except BaseException:
            self.stop()
            raise
        if status != "ready":
            self._process.join(STOP_TIMEOUT_SECONDS)
            raise value
        self.counts: tuple[int, int] = value
        self.pid = self._process.pid
        reader = threading.Thread(target=self._read_results, name="engine-results", daemon=True)
        reader.start()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        future: Future = Future()
        request_id = next(self._request_ids)
        with self._pending_lock:
            if self.dead is not None:
                raise EngineProcessError(self.dead)
            self._pending[request_id] = future
        try:
            with self._send_lock:
                self._conn.send((request_id, method, args, kwargs))
        except (OSError, ValueError) as error:
            with self._pending_lock:
                self._pending.pop(request_id, None)
            raise EngineProcessError("the engine process is gone") from error
        return future.result()

    def _read_results(self) -> None:
        reason = "the engine process has stopped"
        try:
            while True:
                request_id, ok, value = self._conn.recv()
                with self._pending_lock:
                    future = self._pending.pop(request_id, None)
                if future is None:
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (EOFError, OSError):
            exitcode = self._join(STOP_TIMEOUT_SECONDS)
            if exitcode not in (0, None):
                reason = f"the engine process died (exit code {exitcode})"
                logger.error(reason)
        finally:
            with self._pending_lock:
                self.dead = reason
                pending, self._pending = self._pending, {}
            for future in pending.values():
                future.set_exception(EngineProcessError(reason))

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError), self._send_lock:
            self._conn.send(None)  # the child finishes what it has, then exits
        if self._join(STOP_TIMEOUT_SECONDS) is None:
            self.kill()  # SIGKILL: the child ignores SIGTERM
            self._join(STOP_TIMEOUT_SECONDS)
        self._conn.close()

    def _join(self, timeout: float) -> int | None:
        """Wait for the process to end; its exit code, None if it still runs.

        Both the reader thread (at EOF) and ``stop`` wait for the child. multiprocessing's
        Process is not safe for that: one thread's waitpid can reap the child while the
        other's fails, which then takes a finished process for a running one.
        """
        with self._wait_lock:
            self._process.join(timeout)
            return self._process.exitcode

    @property
    def exitcode(self) -> int | None:
        with self._wait_lock:
            return self._process.exitcode

    def kill(self) -> None:
        """SIGKILL; tests use it for a crash of the engine process."""
        with self._wait_lock:
            self._process.kill()


# -- the child ----------------------------------------------------------------------------------


def _child_main(
    conn: Connection, db_path: Path, no_answer_threshold: float | None, log_level: str
) -> None:
    # Stop signals are for the bot, which finishes its in-flight answers and then closes the
    # pipe: the child must outlive them (Ctrl-C and systemd signal the whole group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    from retrieval.engine import QAEngine

    try:
        engine = QAEngine.open(None, db_path, no_answer_threshold=no_answer_threshold)
    except Exception as error:  # sent to the parent, which raises it
        conn.send(("error", error))
        return
    conn.send(("ready", (engine.article_count, engine.chunk_count)))
    send_lock = threading.Lock()

    def reopen() -> tuple[int, int]:
        engine.reopen()
        return engine.article_count, engine.chunk_count

    methods = {"answer": engine.answer, "sources": engine.sources, "reopen": reopen}

    def send(request_id: int, ok: bool, value: Any) -> None:
        with send_lock:
            try:
                conn.send((request_id, ok, value))
            except (OSError, ValueError):
                pass  # the parent is gone; nothing to tell
            except Exception as error:  # a result that cannot be pickled
                conn.send((request_id, False, EngineProcessError(repr(error))))

    def run(request_id: int, method: str, args: tuple, kwargs: dict) -> None:
        try:
            value = methods[method](*args, **kwargs)
        except Exception as error:
            send(request_id, False, error)
        else:
            send(request_id, True, value)

    def answer_together(requests: list[tuple]) -> None:
        """Questions waiting together are read together (cheaper per question: see
        QAEngine.answer_many), each getting exactly what it would alone."""
        groups: dict[tuple, list[tuple]] = {}
        for request in requests:
            groups.setdefault(tuple(request[2][1:]), []).append(request)
        for (k, depth, short_answers), group in groups.items():
            if len(group) == 1:
                run(*group[0])
                continue
            logger.debug("answering %d questions together", len(group))
            try:
                results = engine.answer_many(
                    [request[2][0] for request in group], k, depth, short_answers
                )
            except Exception:  # each question then gets its own outcome, error or answer
                for request in group:
                    run(*request)
                continue
            for request, result in zip(group, results, strict=True):
                send(request[0], True, result)

    def batchable(request: Any) -> bool:
        """An answer request as EngineProcess.answer sends it: (question, k, depth, short)."""
        return (
            request is not None
            and request[1] == "answer"
            and len(request[2]) == 4
            and not request[3]
        )

    with ThreadPoolExecutor(CHILD_THREADS, thread_name_prefix="engine") as pool:
        waiting: list[Any] = []
        while True:
            try:
                request = waiting.pop(0) if waiting else conn.recv()
            except (EOFError, OSError):
                break
            if request is None:
                break
            if request[1] == "reopen":
                pool.submit(run, *request)  # loading an index takes a while: answers go on
            elif batchable(request):
                # Under load several questions wait in the pipe: take them all (up to a
                # worker task's worth), and answer them together.
                together = [request]
                with contextlib.suppress(EOFError, OSError):
                    while len(together) < ANSWER_BATCH and conn.poll():
                        following = conn.recv()
                        if not batchable(following):
                            waiting.append(following)
                            break
                        together.append(following)
                answer_together(together)
            else:
                run(*request)  # one core's worth of work either way: no thread hand-off
    engine.close()
