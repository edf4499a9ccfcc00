"""What every pool of worker processes here needs: workers that outlive neither their owner
nor a stop signal's mess, and a way to stop them at once.

Used by the indexer (retrieval/index_pipeline.py) and by batches of questions
(retrieval/batch_answers.py).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import Executor


def start_worker(owner_pid: int) -> None:
    """A pool's initializer: ignore stop signals, exit when the owner is gone."""
    # Ctrl-C and systemd signal the whole process group. A worker killed by them while sending
    # a result leaves half a message in the pool's pipe, and the pool's thread (which the
    # interpreter's exit joins) waits for the rest forever. So the owner decides when work
    # ends (see abandon), and a worker outlives it only until the watch below notices.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(owner_pid,), daemon=True).start()


def _exit_with(owner_pid: int) -> None:
    try:
        # Readable once the owner has exited, reaped or not (Linux 5.3+).
        owner = os.pidfd_open(owner_pid)
    except (AttributeError, OSError):
        owner = None
    if owner is not None:
        select.select([owner], [], [])
        os._exit(0)  # the owner is gone (killed outright): nobody reads our results
    while True:  # elsewhere: poll (an unreaped owner counts as alive here)
        time.sleep(0.5)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass  # alive, under another user


def default_worker_count() -> int:
    """Worker processes for a pool: one per core, up to 4 (the owner, which writes or
    retrieves, takes a share of a core too)."""
    return max(1, min(os.cpu_count() or 1, 4))


def only_thread() -> bool:
    """Whether this process runs no other thread: then it may fork its workers (a pool starts
    a thread of its own: ask before making one)."""
    return threading.active_count() == 1


def can_fork() -> bool:
    """Forking is safe here and now: Linux (macOS's system libraries do not survive a fork)
    and no other thread (whose locks the child would copy, held)."""
    return sys.platform.startswith("linux") and only_thread()


def abandon(executor: Executor) -> None:
    """Stop an executor's work now: drop queued calls and kill its worker processes.

    Without the kill, the interpreter's exit waits for every call already running (a big page
    being parsed: seconds). Workers are killed while this holds the lock they take to send a
    result, so none dies halfway through a message (which would hang the pool's thread).
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    result_queue = getattr(executor, "_result_queue", None)
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    send_lock = getattr(result_queue, "_wlock", None)
    if not processes or send_lock is None:
        return  # inline, or a platform whose result pipe needs no lock
    # A worker that died holding the lock would block this forever: then kill regardless.
    locked = send_lock.acquire(timeout=5)
    try:
        for process in processes:
            process.kill()
        for process in processes:
            process.join()
    finally:
        if locked:
            send_lock.release()
    # The pool's thread notices the dead workers and reaps them too: until it is done, a
    # worker may still count as running, and this process as having another thread.
    if isinstance(manager, threading.Thread):
        manager.join(timeout=5)
