"""Linear scorers loaded from the shipped weights file, and the sigmoid that turns a score
into a probability (a question's softmax: retrieval.segments). Training
(retrieval/train_answerer.py) writes what this reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class WeightsError(ValueError):
    """The weights file does not fit the features this code computes."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    """score = features · weights (+ the sum of the hashed lexical weights of each row)."""

    weights: np.ndarray
    hashed: np.ndarray | None = None  # one weight per hash bucket

    def scores(self, features: np.ndarray, buckets: np.ndarray | None = None) -> np.ndarray:
        # einsum, not a BLAS product: a row's score must not depend on the rows beside it
        # (BLAS sums in an order that does), so that questions read together score as alone.
        scores = np.einsum("...j,j->...", features, self.weights)
        if self.hashed is not None and buckets is not None and len(buckets):
            scores = scores + self.hashed[buckets].sum(axis=1)
        return scores

    @classmethod
    def from_json(
        cls, entry: dict, feature_names: tuple[str, ...], hash_buckets: int | None = None
    ) -> LinearModel:
        if tuple(entry["features"]) != feature_names:
            raise WeightsError("the weights were trained for other features: retrain them")
        weights = np.array(entry["weights"], dtype=np.float64)
        hashed = None
        if hash_buckets is not None:
            hashed = np.zeros(hash_buckets)
            for bucket, weight in entry.get("hashed", {}).items():
                hashed[int(bucket)] = weight
        return cls(weights, hashed)

    def to_json(self, feature_names: tuple[str, ...], digits: int = 5) -> dict:
        entry: dict = {
            "features": list(feature_names),
            "weights": [round(float(w), digits) for w in self.weights],
        }
        if self.hashed is not None:
            entry["hashed"] = {
                str(bucket): round(float(weight), digits)
                for bucket, weight in enumerate(self.hashed)
                if abs(weight) >= 10**-digits
            }
        return entry


def sigmoid(value: float) -> float:
    return float(1.0 / (1.0 + np.exp(-value)))


def sigmoids(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))
