"""Support: the calibrated model that turns a claim's features into one probability that its quotes state it.

    model = SupportModel.load(Path("qa/support_model.json"))
    model.score({"judge": 0.93, "answer_min_p": 0.8}) >= model.threshold   # supported

A logistic model over standardised features, fitted on the dev split by eval/calibrate.py, which also
chooses the threshold; the JSON file says what it was fitted on. qa/verify.py measures the features.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ModelNotFoundError

FEATURES = (
    "claim_terms",
    "question_cover",
    "missing_idf",
    "cosine",
    "judge",
    "similarity",
    "answer_min_p",
    "answer_mean_p",
    "added_min_p",
)


@dataclass(frozen=True)
class SupportModel:
    """support = sigmoid(bias + Σ weight · (feature − mean) / scale); a claim is supported at >= threshold."""

    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    threshold: float
    fitted_on: str = ""  # what it was fitted on, for people

    def score(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(
            w * (features.get(name, self.means.get(name, 0.0)) - self.means.get(name, 0.0)) / self.scales.get(name, 1.0)
            for name, w in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(name for name, w in self.weights.items() if w)

    def decided_without(self, features: Mapping[str, float], name: str, low: float = 0.0, high: float = 1.0) -> bool:
        """Whether the decision is the same whatever value in [low, high] feature `name` takes: then it
        need not be measured (the judge costs ~1 s of model time)."""
        if not self.weights.get(name):
            return True
        scores = [self.score({**features, name: value}) for value in (low, high)]
        return min(scores) >= self.threshold or max(scores) < self.threshold

    @classmethod
    def load(cls, path: Path) -> SupportModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                data["weights"],
                data["means"],
                data["scales"],
                data["bias"],
                data["threshold"],
                data.get("fitted_on", ""),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelNotFoundError(
                f"support model {path} is missing or unreadable ({type(e).__name__}) — "
                "set QA_SUPPORT_MODEL_PATH, or fit one with `python -m eval.calibrate`"
            ) from e
