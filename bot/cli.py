"""The ``newsbite`` command line: index, ask, eval, serve.

Errors are one line on stderr with no traceback: exit 2 for usage errors (a missing corpus
folder, an unreadable database), 1 for anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.terminal import ProgressBar, render_result

DEFAULT_CORPUS = Path("seeds")
DEFAULT_DB = Path(".newsbite") / "newsbite.db"
# Passages the answerer reads per question, in the bot and in `ask`. 5 gives the best answer
# the quality of 10 (docs/evaluation.md) for about 30 % less CPU per question.
ANSWER_DEPTH = 5


class UsageError(Exception):
    """Exit 2: the command cannot run as asked."""


def default_corpus() -> Path:
    return Path(os.environ.get("NEWSBITE_CORPUS") or DEFAULT_CORPUS)


def default_db() -> Path:
    return Path(os.environ.get("NEWSBITE_DB") or DEFAULT_DB)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbite",
        description="Answers questions from a folder of news articles, citing its sources.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_store_arguments(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--corpus",
            type=Path,
            default=None,
            help="folder of articles (default: $NEWSBITE_CORPUS or ./seeds)",
        )
        sub.add_argument(
            "--db",
            type=Path,
            default=None,
            help="index database (default: $NEWSBITE_DB or ./.newsbite/newsbite.db)",
        )

    index = commands.add_parser("index", help="index the corpus folder (incremental)")
    add_store_arguments(index)
    index.add_argument("--rebuild", action="store_true", help="delete the index and build anew")

    ask = commands.add_parser("ask", help="answer a question from the articles")
    add_store_arguments(ask)
    ask.add_argument("question", metavar="QUESTION", help="the question, or - to read lines")
    ask.add_argument("-k", type=int, default=3, help="answers to show (default 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--threshold", type=float, default=None, help="no-answer threshold")
    ask.add_argument(
        "--depth",
        type=int,
        default=ANSWER_DEPTH,
        help=f"passages the answerer reads per question (default {ANSWER_DEPTH}, as the bot)",
    )
    ask.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes reading a batch of questions from a pipe or file (default: one per "
        "core, up to 4; 1 reads them here)",
    )

    evaluate = commands.add_parser("eval", help="measure retrieval and answers on a QA file")
    add_store_arguments(evaluate)
    evaluate.add_argument("file", type=Path, metavar="FILE", help="SQuAD v1.1 JSON or JSONL")
    evaluate.add_argument("--unanswerable", type=Path, default=None, metavar="FILE")
    evaluate.add_argument("-k", type=int, default=5, help="passages retrieved (default 5)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable metrics")

    serve = commands.add_parser("serve", help="run the Telegram bot")
    add_store_arguments(serve)
    from bot import serve as serve_module

    serve_module.add_arguments(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from bot import serve as serve_module

            return serve_module.main(args)
        return {"index": run_index, "ask": run_ask, "eval": run_eval}[args.command](args)
    except UsageError as error:
        print(f"newsbite: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsbite: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the one place that turns any failure into one line
        print(f"newsbite: error: {error}", file=sys.stderr)
        return 1


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    return (args.corpus or default_corpus()), (args.db or default_db())


def open_engine(corpus: Path, db: Path, *, progress: bool, threshold: float | None = None):
    """The engine over ``corpus``, index refreshed first; usage problems become UsageError."""
    from retrieval.engine import QAEngine

    with _indexing(progress) as update:
        engine = QAEngine.open(corpus, db, no_answer_threshold=threshold, progress=update)
    for warning in engine.warnings:
        print(f"newsbite: warning: {warning}", file=sys.stderr)
    return engine


@contextmanager
def _indexing(progress: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """Around work that may (re)index the corpus: a progress bar on a terminal, and a missing
    corpus folder or an unusable database as a UsageError."""
    from retrieval.corpus import CorpusNotFound
    from retrieval.store import StoreError

    bar = ProgressBar() if progress and sys.stderr.isatty() else None
    try:
        yield bar.update if bar else None
    except (CorpusNotFound, StoreError) as error:
        raise UsageError(str(error)) from error
    finally:
        if bar:
            bar.close()


def run_index(args: argparse.Namespace) -> int:
    from retrieval.index_update import update_index

    corpus, db = _paths(args)
    if args.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    with _indexing(progress=True) as update:
        summary = update_index(db, corpus, update)
    print(summary)
    for skipped in summary.skipped:
        print(f"  skipped {skipped.rel_path}: {skipped.reason}")
    for note in summary.notes:
        print(f"  note: {note}")
    return 0


def _questions(question: str) -> Iterator[str]:
    if question != "-":
        yield question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def run_ask(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    if args.depth < 1:
        raise UsageError("--depth must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    from retrieval.batch_answers import BATCH_SIZE, answer_all
    from retrieval.worker_processes import default_worker_count

    corpus, db = _paths(args)
    engine = open_engine(corpus, db, progress=True, threshold=args.threshold)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    try:
        # Someone typing questions gets each answer at once; a batch from a pipe or a file is
        # read several questions at a time, by several processes.
        batch = args.question == "-" and not sys.stdin.isatty()
        workers = (args.workers or default_worker_count()) if batch else 1
        questions = _questions(args.question)
        results = answer_all(
            engine,
            questions,
            k=args.k,
            depth=args.depth,
            workers=workers,
            batch_size=BATCH_SIZE if batch else 1,
        )
        for result in results:
            if args.json:
                print(json.dumps(result.to_json(), ensure_ascii=False), flush=False)
            else:
                print(render_result(result, color=color))
        sys.stdout.flush()
    finally:
        engine.close()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from retrieval import evaluation

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    if args.unanswerable is not None and not args.unanswerable.is_file():
        raise UsageError(f"no such file: {args.unanswerable}")
    progress = sys.stderr.isatty()
    started = time.perf_counter()
    if evaluation.is_squad_file(args.file):
        metrics = evaluation.evaluate_squad(
            args.file, unanswerable=args.unanswerable, k=args.k, progress=progress
        )
    else:
        corpus, db = _paths(args)
        engine = open_engine(corpus, db, progress=progress)
        try:
            metrics = evaluation.evaluate_jsonl(
                args.file, engine, unanswerable=args.unanswerable, k=args.k, progress=progress
            )
        finally:
            engine.close()
    metrics.setdefault("seconds", round(time.perf_counter() - started, 2))
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        print(evaluation.format_report(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
