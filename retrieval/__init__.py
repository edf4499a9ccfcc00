"""Retrieval and answering for NewsBite QA: corpus → chunks → tokens → BM25 → answers."""
