"""Top-k selection by partial sort: the k best of n values in O(n), not O(n log n).

A full ``argsort`` of every score is the slow way to find ten passages among a million. Here
``np.partition`` finds the k-th best value in linear time, only the values at or above it are
sorted, and ties are broken by a key (the document index) so that results are deterministic
and equal to a stable full sort.
"""

from __future__ import annotations

import numpy as np


def top_k(values: np.ndarray, k: int, keys: np.ndarray | None = None) -> np.ndarray:
    """Positions (int64) of the ``k`` largest ``values``, largest first.

    Ties are broken by the lower ``keys`` entry, or by the lower position when ``keys`` is
    None, so the result equals ``np.lexsort((keys, -values))[:k]``. ``values`` must hold no NaN;
    integer values are compared as float64. Fewer than ``k`` positions come back when there are
    fewer values; none when ``k <= 0``.
    """
    values = np.asarray(values)
    if values.dtype.kind != "f":
        # Negating for the descending sort would wrap around for unsigned integers.
        values = values.astype(np.float64)
    count = len(values)
    if keys is not None and len(keys) != count:
        raise ValueError(f"keys has {len(keys)} entries for {count} values")
    if k <= 0 or count == 0:
        return np.empty(0, dtype=np.int64)
    if k < count:
        # The k-th largest value; everything strictly below it cannot be in the result, while
        # values equal to it may be more than needed and are cut after the tie-break sort.
        threshold = np.partition(values, count - k)[count - k]
        candidates = np.flatnonzero(values >= threshold)
    else:
        candidates = np.arange(count, dtype=np.int64)
    tie_keys = candidates if keys is None else keys[candidates]
    order = np.lexsort((tie_keys, -values[candidates]))
    return candidates[order[:k]].astype(np.int64, copy=False)


def top_k_distinct(
    ids: np.ndarray, values: np.ndarray, k: int, max_repeats: int
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, values) of the ``k`` best distinct ids, best first, ties by lower id.

    ``ids`` may repeat, up to ``max_repeats`` times each, always with the same value: documents
    gathered from several posting lists. The k·max_repeats-th largest value is a safe cut-off,
    since at least k distinct ids reach it, so only the pairs above it are deduplicated.
    """
    if len(ids) != len(values):
        raise ValueError(f"{len(ids)} ids for {len(values)} values")
    if k <= 0 or len(ids) == 0:
        return ids[:0], values[:0]
    pool = k * max(max_repeats, 1)
    if pool < len(values):
        threshold = np.partition(values, len(values) - pool)[len(values) - pool]
        kept = np.flatnonzero(values >= threshold)
        ids, values = ids[kept], values[kept]
    distinct_ids, first = _distinct(ids)
    chosen = top_k(values[first], k, keys=distinct_ids)
    return distinct_ids[chosen], values[first][chosen]


def _distinct(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, position of one occurrence of each). Not ``np.unique``: that
    takes a hash-table path in NumPy 2.3+, ten times slower than sorting on these sizes."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    is_first = np.empty(len(ids), dtype=bool)
    is_first[:1] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=is_first[1:])
    return sorted_ids[is_first], order[is_first]
