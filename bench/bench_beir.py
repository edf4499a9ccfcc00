"""A sanity check of our BM25 on a standard retrieval set: BEIR SciFact (nDCG@10, recall@100).

Each SciFact abstract is one document (title + text, tokenized by retrieval.tokenizer, as the
product tokenizes a paragraph and its article title); the 300 test claims are the queries. Three
systems on the same data, in one run:

- **ours**: retrieval.bm25.BM25Index (BM25Okapi k1=1.5, b=0.75, epsilon=0.25) on our tokens;
- **rank-bm25** BM25Okapi on the same tokens (the reference definition: same scores, so the
  same ranking up to ties; it scores every document in Python, hence the latency);
- **bm25s** with its own tokenizer, English stopwords and the same Snowball stemmer
  (PyStemmer), method "lucene" (its default): an independent implementation to compare with.

For scale: the BEIR paper reports nDCG@10 0.665 for BM25 (Elasticsearch) on SciFact; bm25s
reports 0.67–0.69 depending on tokenization.

    python bench/bench_beir.py [--data ../shared/data/beir/scifact]

Prints a markdown table; copy it into docs/benchmarks.md with the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retrieval.bm25 import BM25Index  # noqa: E402
from retrieval.tokenizer import tokenize  # noqa: E402

Ranker = Callable[[str, int], list[str]]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return qrels


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    gains = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return gains / best if best else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    found = sum(1 for doc in ranked[:k] if relevant.get(doc, 0) > 0)
    return found / sum(1 for gain in relevant.values() if gain > 0)


def evaluate(name: str, rank: Ranker, queries: dict[str, str], qrels: dict) -> dict:
    ndcg, recall, latency = [], [], []
    for query_id, relevant in qrels.items():
        started = time.perf_counter()
        ranked = rank(queries[query_id], 100)
        latency.append(time.perf_counter() - started)
        ndcg.append(ndcg_at(ranked, relevant, 10))
        recall.append(recall_at(ranked, relevant, 100))
    return {
        "system": name,
        "ndcg@10": float(np.mean(ndcg)),
        "recall@100": float(np.mean(recall)),
        "p50_ms": float(np.percentile(latency, 50) * 1000),
    }


def ours(doc_ids: list[str], documents: list[list[str]]) -> Ranker:
    index = BM25Index.from_documents(documents)

    def rank(query: str, k: int) -> list[str]:
        rows, _ = index.top_k(tokenize(query), k)
        return [doc_ids[int(row)] for row in rows]

    return rank


def rank_bm25(doc_ids: list[str], documents: list[list[str]]) -> Ranker:
    from rank_bm25 import BM25Okapi

    index = BM25Okapi(documents)

    def rank(query: str, k: int) -> list[str]:
        scores = index.get_scores(tokenize(query))
        top = np.argsort(-scores, kind="stable")[:k]
        return [doc_ids[int(row)] for row in top]

    return rank


def bm25s_own(doc_ids: list[str], texts: list[str]) -> Ranker:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    index.index(tokens, show_progress=False)

    def rank(query: str, k: int) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
        rows, _ = index.retrieve(tokens, k=k, show_progress=False)
        return [doc_ids[int(row)] for row in rows[0]]

    return rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "beir" / "scifact"
    )
    args = parser.parse_args()
    corpus = read_jsonl(args.data / "corpus.jsonl")
    queries = {row["_id"]: row["text"] for row in read_jsonl(args.data / "queries.jsonl")}
    qrels = read_qrels(args.data / "qrels" / "test.tsv")
    doc_ids = [row["_id"] for row in corpus]
    texts = [f"{row.get('title', '')}\n{row.get('text', '')}" for row in corpus]
    documents = [tokenize(text) for text in texts]

    results = [
        evaluate("ours (BM25Index, our tokenizer)", ours(doc_ids, documents), queries, qrels),
        evaluate("rank-bm25 BM25Okapi, same tokens", rank_bm25(doc_ids, documents), queries, qrels),
        evaluate(
            "bm25s (lucene), its tokenizer + stemmer", bm25s_own(doc_ids, texts), queries, qrels
        ),
    ]
    print(f"SciFact: {len(corpus):,} documents, {len(qrels)} test queries\n")
    print("| system | nDCG@10 | recall@100 | p50 ms / query |")
    print("|---|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['system']} | {row['ndcg@10']:.3f} | {row['recall@100']:.3f}"
            f" | {row['p50_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
