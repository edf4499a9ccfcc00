"""Retrieval speed and agreement: our BM25Index against rank-bm25 and bm25s on the same tokens.

Reads the news corpora (default: the BBC + Reuters news in ../shared/data/news) with the
project's own reader, chunker and tokenizer, builds the three indexes on the same paragraphs and
times realistic questions: a wh-word plus a window of a real sentence's words, or an article
title. Latency is per question and includes tokenizing it. rank-bm25 scores every document in
Python (a fifth to half a second a question), so it answers only ``--reference-queries``
questions; those also measure how far our top 10 agrees with its top 10. bm25s is timed through
its public ``retrieve`` one question at a time, as the bot would call it.

bm25s runs with method="atire", idf_method="robertson": the same tf part and raw idf as
rank-bm25's BM25Okapi, except that bm25s clips a negative idf to 0 where rank-bm25 (and we)
floor it at epsilon × the average idf.

Then the corpus is scaled to ``--scale`` paragraphs in a fresh process, so that its peak RSS
(ru_maxrss) is that of an engine holding only the index: the paragraphs' term ids are
replicated, and in every copy after the first a random half of the rare terms (in at most 20
paragraphs) is renamed to a term of that copy only. Common words stay common and the vocabulary
keeps growing, as in a bigger news archive; the same questions are asked. The news paragraphs
are short (about 22 index terms), so by default the scaled run is done twice: as they are, and
with every two consecutive paragraphs joined (``--join 1 2``, about 44 terms a paragraph).

    python bench/bench_retrieval.py [--data ../shared/data/news] [--scale 1000000] [--join 1 2]

Prints a markdown table. Timings are wall-clock on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retrieval.bm25 import BM25Index  # noqa: E402
from retrieval.chunks import chunk_article  # noqa: E402
from retrieval.documents import Chunk  # noqa: E402
from retrieval.tokenizer import tokenize  # noqa: E402

TOP = 10
RARE_DOC_FREQ = 20
WARMUP_QUESTIONS = 50
T = TypeVar("T")


def load_chunks(data: Path) -> tuple[list[Chunk], list[str]]:
    """Chunks of every article under ``data`` and the articles' titles."""
    # Imported here: the scaled-run child process never reads the corpus.
    from retrieval.corpus import read_articles

    chunks: list[Chunk] = []
    titles: list[str] = []
    for article in read_articles(data):
        chunks.extend(chunk_article(article))
        titles.append(article.title)
    return chunks, titles


def make_questions(chunks: Sequence[Chunk], titles: Sequence[str], count: int) -> list[str]:
    """Questions as a user might type them: one in five an article title, the others a
    wh-word and four to eight consecutive words of a real sentence."""
    rng = random.Random(20260517)
    questions: list[str] = []
    while len(questions) < count:
        if rng.random() < 0.2:
            questions.append(rng.choice(titles))
            continue
        chunk = rng.choice(chunks)
        start, end = rng.choice(chunk.sentences)
        words = chunk.text[start:end].split()
        if len(words) < 6:
            continue
        size = rng.randint(4, min(8, len(words)))
        first = rng.randrange(0, len(words) - size + 1)
        wh_word = rng.choice(["What", "Who", "When", "How many", "Why", "Where"])
        questions.append(f"{wh_word} {' '.join(words[first : first + size])}?")
    return questions


def encode(documents: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(token ids, document lengths, vocabulary) as the store hands them to the engine."""
    term_ids: dict[str, int] = {}
    token_ids = np.array(
        [term_ids.setdefault(token, len(term_ids)) for doc in documents for token in doc],
        dtype=np.int32,
    )
    lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int32, count=len(documents))
    return token_ids, lengths, list(term_ids)


def latencies_ms(
    questions: Sequence[str], answer: Callable[[str], T], warmup: int = WARMUP_QUESTIONS
) -> tuple[np.ndarray, list[T]]:
    """Milliseconds per question (after ``warmup`` untimed ones) and the answers."""
    for question in questions[:warmup]:
        answer(question)
    timings, answers = [], []
    for question in questions:
        started = time.perf_counter()
        answers.append(answer(question))
        timings.append(time.perf_counter() - started)
    return np.array(timings) * 1000, answers


def timed(build: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = build()
    return result, time.perf_counter() - started


def stable_top(scores: np.ndarray, k: int) -> list[int]:
    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[scores[order] > 0][:k].tolist()


def overlap(ours: Sequence[int], reference: Sequence[int]) -> float:
    if not reference:
        return 1.0 if not ours else 0.0
    return len(set(ours) & set(reference)) / len(reference)


def ms(values: np.ndarray, percentile: float) -> str:
    return f"{np.percentile(values, percentile):.3f}"


def scaled_corpus(
    token_ids: np.ndarray,
    lengths: np.ndarray,
    vocabulary: list[str],
    target_docs: int,
    join: int = 1,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The corpus replicated to ``target_docs`` paragraphs, rare terms renamed per copy; with
    ``join`` > 1, every ``join`` consecutive paragraphs first become one longer paragraph."""
    rng = np.random.default_rng(7)
    lengths = np.add.reduceat(lengths, np.arange(0, len(lengths), join)).astype(np.int32)
    doc_of_token = np.repeat(np.arange(len(lengths)), lengths)
    doc_freq = np.bincount(
        np.unique(token_ids.astype(np.int64) * len(lengths) + doc_of_token) // len(lengths),
        minlength=len(vocabulary),
    )
    del doc_of_token
    rare = np.flatnonzero((doc_freq > 0) & (doc_freq <= RARE_DOC_FREQ))
    copies = -(-target_docs // len(lengths))
    all_vocabulary = list(vocabulary)
    token_parts, length_parts = [token_ids], [lengths]
    for copy in range(1, copies):
        renamed = rare[rng.random(len(rare)) < 0.5]
        id_map = np.arange(len(vocabulary), dtype=np.int32)
        id_map[renamed] = np.arange(len(renamed), dtype=np.int32) + len(all_vocabulary)
        all_vocabulary.extend(f"{vocabulary[i]}~{copy}" for i in renamed.tolist())
        token_parts.append(id_map[token_ids])
        length_parts.append(lengths)
    all_lengths = np.concatenate(length_parts)[:target_docs]
    all_tokens = np.concatenate(token_parts)[: int(all_lengths.sum(dtype=np.int64))]
    return all_tokens, all_lengths, all_vocabulary


def run_scaled(workdir: Path) -> dict[str, float]:
    """The child process: scale up, build, answer the questions, report as JSON."""
    base = np.load(workdir / "base.npz")
    vocabulary = json.loads((workdir / "vocabulary.json").read_text(encoding="utf-8"))
    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    token_ids, lengths, vocabulary = scaled_corpus(
        base["token_ids"], base["lengths"], vocabulary, job["scale"], job["join"]
    )
    index, build_seconds = timed(lambda: BM25Index.from_token_ids(token_ids, lengths, vocabulary))
    latency, _ = latencies_ms(job["questions"], lambda q: index.top_k(tokenize(q), TOP))
    return {
        "docs": index.n_docs,
        "tokens": int(lengths.sum(dtype=np.int64)),
        "terms": index.n_terms,
        "build_s": build_seconds,
        "p50_ms": float(np.percentile(latency, 50)),
        "p95_ms": float(np.percentile(latency, 95)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_scaled(
    token_ids: np.ndarray,
    lengths: np.ndarray,
    vocabulary: list[str],
    questions: list[str],
    scale: int,
    join: int,
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        np.savez(workdir / "base.npz", token_ids=token_ids, lengths=lengths)
        (workdir / "vocabulary.json").write_text(json.dumps(vocabulary), encoding="utf-8")
        job = {"scale": scale, "join": join, "questions": questions}
        (workdir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        output = subprocess.run(
            [sys.executable, __file__, "--scaled-child", str(workdir)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    return json.loads(output)


def build_bm25s(
    documents: Sequence[Sequence[str]], term_ids: dict[str, int]
) -> tuple[Callable[[str], list[int]], float]:
    """bm25s indexed with our term ids: (question → top documents, build seconds)."""
    import bm25s

    index = bm25s.BM25(method="atire", idf_method="robertson")
    id_lists = [[term_ids[t] for t in doc] for doc in documents]
    _, build_seconds = timed(lambda: index.index((id_lists, dict(term_ids)), show_progress=False))

    def top(question: str) -> list[int]:
        ids = [term_ids[t] for t in tokenize(question) if t in term_ids]
        if not ids:
            return []
        docs, scores = index.retrieve([ids], k=TOP, show_progress=False, n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    return top, build_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "news")
    parser.add_argument("--scale", type=int, default=1_000_000, help="0 skips the scaled run")
    parser.add_argument(
        "--join",
        type=int,
        nargs="+",
        default=[1, 2],
        help="scaled runs with every N consecutive paragraphs joined into one (longer) paragraph",
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--reference-queries", type=int, default=20)
    parser.add_argument("--scaled-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scaled_child:
        print(json.dumps(run_scaled(args.scaled_child)))
        return

    import bm25s
    import rank_bm25

    (chunks, titles), read_seconds = timed(lambda: load_chunks(args.data))
    documents, tokenize_seconds = timed(lambda: [tokenize(chunk.text) for chunk in chunks])
    questions = make_questions(chunks, titles, args.queries)
    token_ids, lengths, vocabulary = encode(documents)
    term_ids = {term: i for i, term in enumerate(vocabulary)}
    print(
        f"{len(chunks)} paragraphs, {len(token_ids)} tokens, {len(vocabulary)} terms;"
        f" read {read_seconds:.1f} s, tokenized {tokenize_seconds:.1f} s",
        file=sys.stderr,
    )

    ours, ours_build = timed(lambda: BM25Index.from_token_ids(token_ids, lengths, vocabulary))
    ours_latency, _ = latencies_ms(questions, lambda q: ours.top_k(tokenize(q), TOP))

    bm25s_top, bm25s_build = build_bm25s(documents, term_ids)
    bm25s_latency, _ = latencies_ms(questions, bm25s_top)

    reference, reference_build = timed(lambda: rank_bm25.BM25Okapi(documents))
    sample = questions[: args.reference_queries]

    def reference_top(question: str) -> tuple[np.ndarray, list[int]]:
        scores = reference.get_scores(tokenize(question))
        return scores, stable_top(scores, TOP)

    # No warm-up: each rank-bm25 question takes long enough on its own.
    reference_latency, reference_answers = latencies_ms(sample, reference_top, warmup=0)
    ours_overlaps, bm25s_overlaps, identical, worst_relative = [], [], 0, 0.0
    for question, (reference_scores, expected) in zip(sample, reference_answers, strict=True):
        query = tokenize(question)
        got = ours.top_k(query, TOP)[0].tolist()
        identical += got == expected
        ours_overlaps.append(overlap(got, expected))
        bm25s_overlaps.append(overlap(bm25s_top(question), expected))
        ours_scores = ours.scores(query)
        matched = reference_scores != 0
        if matched.any():
            relative = np.abs(ours_scores[matched] / reference_scores[matched] - 1).max()
            worst_relative = max(worst_relative, float(relative))

    rows = [
        "| engine | paragraphs | build (s) | p50 (ms) | p95 (ms) | top-10 overlap with rank-bm25 |",
        "|---|---:|---:|---:|---:|---:|",
        f"| ours (BM25Index) | {len(chunks)} | {ours_build:.3f} | {ms(ours_latency, 50)}"
        f" | {ms(ours_latency, 95)} | {np.mean(ours_overlaps):.3f}"
        f" ({identical}/{len(sample)} identical lists) |",
        f"| bm25s {bm25s.__version__} (atire tf, robertson idf) | {len(chunks)}"
        f" | {bm25s_build:.3f}"
        f" | {ms(bm25s_latency, 50)} | {ms(bm25s_latency, 95)} | {np.mean(bm25s_overlaps):.3f} |",
        f"| rank-bm25 BM25Okapi | {len(chunks)} | {reference_build:.3f}"
        f" | {ms(reference_latency, 50)} | {ms(reference_latency, 95)} | 1 (reference) |",
    ]
    for join in args.join if args.scale else []:
        scaled = measure_scaled(token_ids, lengths, vocabulary, questions, args.scale, join)
        tokens_per_doc = scaled["tokens"] / scaled["docs"]
        rows.append(
            f"| ours, scaled (join {join}: {tokens_per_doc:.0f} tokens/paragraph,"
            f" {scaled['terms']} terms) | {scaled['docs']} | {scaled['build_s']:.3f}"
            f" | {scaled['p50_ms']:.3f} | {scaled['p95_ms']:.3f}"
            f" | peak RSS {scaled['peak_rss_mb']:.0f} MB (whole process) |"
        )
    print("\n".join(rows))
    print(
        f"\n{len(questions)} questions (rank-bm25: {len(sample)}), top {TOP}, latency includes"
        f" tokenizing; worst relative score difference from rank-bm25 on documents it scores:"
        f" {worst_relative:.1e}."
    )


if __name__ == "__main__":
    main()
