"""top_k and top_k_distinct select what a stable full sort would, without sorting everything."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.topk import top_k, top_k_distinct


def _full_sort(values: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
    return np.lexsort((keys, -values))[:k]


def test_largest_first() -> None:
    values = np.array([0.5, 3.0, 1.0, 2.0, 0.1])
    assert top_k(values, 3).tolist() == [1, 3, 2]


def test_ties_by_lower_position() -> None:
    values = np.array([1.0, 2.0, 2.0, 1.0, 2.0, 1.0])
    assert top_k(values, 2).tolist() == [1, 2]
    assert top_k(values, 4).tolist() == [1, 2, 4, 0]


def test_ties_by_key() -> None:
    values = np.array([2.0, 2.0, 5.0, 2.0])
    keys = np.array([40, 7, 0, 12])
    assert top_k(values, 3, keys=keys).tolist() == [2, 1, 3]


def test_k_beyond_length_returns_all_sorted() -> None:
    values = np.array([1.0, 4.0, 2.0])
    assert top_k(values, 10).tolist() == [1, 2, 0]


@pytest.mark.parametrize("k", [0, -3])
def test_k_not_positive_returns_nothing(k: int) -> None:
    result = top_k(np.array([1.0, 2.0]), k)
    assert result.dtype == np.int64 and len(result) == 0


def test_empty_values() -> None:
    assert len(top_k(np.empty(0), 5)) == 0


def test_integer_values_including_unsigned() -> None:
    assert top_k(np.array([3, 9, 1, 9], dtype=np.uint8), 3).tolist() == [1, 3, 0]
    assert top_k(np.array([-3, 9, -1], dtype=np.int64), 2).tolist() == [1, 2]


def test_keys_must_match_values() -> None:
    with pytest.raises(ValueError, match="keys"):
        top_k(np.array([1.0, 2.0]), 1, keys=np.array([0]))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=6), max_size=60),
    k=st.integers(min_value=0, max_value=70),
    shuffle_seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_equals_stable_full_sort(values: list[int], k: int, shuffle_seed: int) -> None:
    # Few distinct values, so ties are the rule, not the exception.
    array = np.array(values, dtype=np.float64) / 4
    keys = np.random.default_rng(shuffle_seed).permutation(len(array))
    np.testing.assert_array_equal(top_k(array, k), _full_sort(array, np.arange(len(array)), k))
    np.testing.assert_array_equal(top_k(array, k, keys=keys), _full_sort(array, keys, k))


def test_distinct_collapses_repeated_ids() -> None:
    ids = np.array([7, 3, 7, 9, 3, 1, 7])
    values = np.array([2.0, 5.0, 2.0, 2.0, 5.0, 0.5, 2.0])
    best_ids, best_values = top_k_distinct(ids, values, 3, max_repeats=3)
    assert best_ids.tolist() == [3, 7, 9]
    assert best_values.tolist() == [5.0, 2.0, 2.0]


def test_distinct_with_fewer_ids_than_k() -> None:
    best_ids, best_values = top_k_distinct(np.array([4, 4, 2]), np.array([1.0, 1.0, 3.0]), 10, 2)
    assert best_ids.tolist() == [2, 4]
    assert best_values.tolist() == [3.0, 1.0]
    assert len(top_k_distinct(np.array([4]), np.array([1.0]), 0, 1)[0]) == 0
    assert len(top_k_distinct(np.empty(0, np.int64), np.empty(0), 3, 1)[0]) == 0


def test_distinct_ids_must_match_values() -> None:
    with pytest.raises(ValueError, match="ids"):
        top_k_distinct(np.array([1, 2]), np.array([1.0]), 1, 1)


@settings(max_examples=300, deadline=None)
@given(
    id_values=st.dictionaries(
        st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=5), max_size=30
    ),
    repeats_seed=st.integers(min_value=0, max_value=2**32 - 1),
    max_repeats=st.integers(min_value=1, max_value=4),
    k=st.integers(min_value=0, max_value=35),
)
def test_distinct_equals_stable_sort_of_distinct_ids(
    id_values: dict[int, int], repeats_seed: int, max_repeats: int, k: int
) -> None:
    # Each id repeated 1..max_repeats times with its one value, in shuffled order, as document
    # ids come out of several posting lists.
    rng = np.random.default_rng(repeats_seed)
    unique_ids = np.array(sorted(id_values), dtype=np.int64)
    unique_values = np.array([id_values[i] for i in unique_ids.tolist()], dtype=np.float64)
    copies = rng.integers(1, max_repeats + 1, size=len(unique_ids))
    order = rng.permutation(int(copies.sum()))
    ids = np.repeat(unique_ids, copies)[order]
    values = np.repeat(unique_values, copies)[order]
    best_ids, best_values = top_k_distinct(ids, values, k, max_repeats)
    expected = _full_sort(unique_values, unique_ids, k)
    np.testing.assert_array_equal(best_ids, unique_ids[expected])
    np.testing.assert_array_equal(best_values, unique_values[expected])
