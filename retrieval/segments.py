"""Rows of several questions end to end (their sentences, or their passages), and reductions
within each question's own rows.

The answerer reads a task's questions together; a question must come out as it does alone, so
every reduction here runs over one question's rows in a fixed order (``reduceat``: left to
right), whatever else the batch holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def joined(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays end to end; a lone array as it is (no copy)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


@dataclass(frozen=True, slots=True)
class Segments:
    """Where each question's rows begin, how many it has (at least one), and each row's
    question."""

    first: np.ndarray  # per question
    counts: np.ndarray  # per question
    question: np.ndarray  # per row

    @classmethod
    def of_counts(cls, counts: Sequence[int]) -> Segments:
        counted = np.array(counts, dtype=np.int64)
        if len(counted) == 1:  # a question read alone: the common case in the bot
            return cls(np.zeros(1, dtype=np.int64), counted, np.zeros(counted[0], dtype=np.int64))
        ends = np.cumsum(counted)
        return cls(ends - counted, counted, np.repeat(np.arange(len(counted)), counted))

    def max(self, values: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(values, self.first)

    def min(self, values: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(values, self.first)

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, self.first)

    def softmax(self, values: np.ndarray) -> np.ndarray:
        shifted = np.exp(values - self.max(values)[self.question])
        return shifted / self.sum(shifted)[self.question]
