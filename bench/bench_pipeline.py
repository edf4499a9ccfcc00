"""End-to-end speed of the indexing pipeline and of `newsbite ask` on a real corpus.

Measures, on one corpus folder (default: the BBC + Reuters news in ../shared/data/news):
cold indexing (chunks and source paragraphs per second; best of ``--repeat`` runs, with the
spread, since the machine may be shared), a refresh with nothing changed, loading the engine
from an up-to-date store, and `newsbite ask -` answering a batch of questions, with its worker
processes and in one process (`--workers 1`), wall and CPU time.

    python bench/bench_pipeline.py [--corpus ../shared/data/news] [--questions 1000] [--repeat 3]

Prints a markdown table; copy it into docs/benchmarks.md with the command line.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retrieval.engine import QAEngine  # noqa: E402
from retrieval.index_update import update_index  # noqa: E402
from retrieval.indexer import refresh  # noqa: E402
from retrieval.store import Store  # noqa: E402


def sample_questions(engine: QAEngine, count: int, seed: int = 7) -> list[str]:
    """Questions made from real sentences: a wh-word plus a few of a sentence's words. The
    same ones for the same index and seed."""
    rng = random.Random(seed)
    store = engine._snapshot.store
    with engine._snapshot.lock:
        ids = [row[0] for row in store.db.execute("SELECT id FROM chunks ORDER BY id")]
        chosen = rng.sample(ids, min(len(ids), count * 2))
        marks = ",".join("?" * len(chosen))
        text_of = dict(
            store.db.execute(f"SELECT id, text FROM chunks WHERE id IN ({marks})", chosen)
        )
    questions = []
    for chunk_id in chosen:
        words = [w for w in text_of[chunk_id].split() if w.isalpha()]
        if len(words) < 8:
            continue
        start = rng.randrange(0, len(words) - 6)
        questions.append(
            f"{rng.choice(['What', 'Who', 'How many', 'When'])} "
            + " ".join(words[start : start + rng.randint(4, 8)])
            + "?"
        )
        if len(questions) == count:
            break
    return questions


def ask_seconds(command: list[str], questions: list[str], runs: int = 3) -> tuple[float, float]:
    """Median wall time and median CPU time (the process and its workers) of ``command``
    answering ``questions``, one process per run."""
    times, cpus = [], []
    for _ in range(runs):
        cpu_before = _children_cpu()
        started = time.perf_counter()
        subprocess.run(
            command,
            input="\n".join(questions),
            text=True,
            check=True,
            cwd=REPO,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu_before)
    return statistics.median(times), statistics.median(cpus)


def _children_cpu() -> float:
    """CPU seconds of the finished child processes, theirs included once they waited for them."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "news")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="cold index runs (best is shown)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        colds = []
        for _ in range(max(args.repeat, 1)):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            started = time.perf_counter()
            summary = update_index(db, args.corpus)  # as `newsbite index` builds a new database
            colds.append(time.perf_counter() - started)
            store = Store(db)
            source_paragraphs = store.db.execute("SELECT sum(paragraphs) FROM articles").fetchone()
            store.close()
        cold = min(colds)

        store = Store(db)
        started = time.perf_counter()
        unchanged = refresh(store, args.corpus)
        warm = time.perf_counter() - started
        store.close()
        assert not unchanged.changed

        started = time.perf_counter()
        engine = QAEngine.open(args.corpus, db, refresh_index=False)
        load = time.perf_counter() - started
        questions = sample_questions(engine, args.questions)
        engine.close()

        command = [
            sys.executable,
            "-m",
            "bot.cli",
            "ask",
            "--corpus",
            str(args.corpus),
            "--db",
            str(db),
            "--json",
            "-",
        ]
        # Start-up (imports, refresh check, load) is the same with or without questions: the
        # difference of the medians is the questions' time.
        startup = ask_seconds(command, [])
        batch = ask_seconds(command, questions)
        alone = ask_seconds([*command[:-1], "--workers", "1", "-"], questions)

    answered = len(questions)
    # Per question: the batch's median minus the start-up's, wall and CPU.
    per_question_ms, cpu_ms = (
        (run - start) / max(answered, 1) * 1000 for run, start in zip(batch, startup, strict=True)
    )
    alone_ms, alone_cpu_ms = (
        (run - start) / max(answered, 1) * 1000 for run, start in zip(alone, startup, strict=True)
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"corpus: {args.corpus} — {summary.articles} articles, {source_paragraphs[0]} source"
        f" paragraphs in {summary.paragraphs} chunks, {len(summary.skipped)} files skipped\n"
    )
    print("| measure | result |")
    print("|---|---|")
    spread = f"{min(colds):.1f}–{max(colds):.1f} s over {len(colds)} runs"
    print(
        f"| cold indexing, best ({spread}) | {cold:.1f} s: {summary.paragraphs / cold:,.0f}"
        f" chunks/s, {source_paragraphs[0] / cold:,.0f} source paragraphs/s |"
    )
    print(f"| `newsbite index`, nothing changed (refresh) | {warm:.2f} s |")
    print(f"| engine load from an up-to-date store | {load:.2f} s |")
    print(f"| `newsbite ask -` start-up (refresh check + load, no question) | {startup[0]:.2f} s |")
    print(
        f"| `newsbite ask -` per question, end to end ({answered} questions; median of 3) "
        f"| {per_question_ms:.2f} ms (CPU, parent and workers: {cpu_ms:.2f} ms) |"
    )
    print(
        f"| the same in one process (`--workers 1`) | {alone_ms:.2f} ms"
        f" (CPU {alone_cpu_ms:.2f} ms) |"
    )
    print(f"| peak RSS of this process (indexing + load) | {peak_mb:,.0f} MB |")


if __name__ == "__main__":
    main()
