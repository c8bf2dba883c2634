"""eval.calibrate: the AUC helpers that choose the support model's features."""

import random

from eval.calibrate import Row, auc, cross_validated_auc


def _rows(n_items: int, informative: bool) -> list[Row]:
    rng = random.Random(7)
    rows = []
    for i in range(n_items):
        label = i % 2
        for _ in range(2):  # two claims an item: they must stay in one fold
            value = label + rng.gauss(0, 0.3) if informative else rng.gauss(0, 1)
            rows.append(Row(f"s:{i}", True, {"f": value}, label, "", "claim"))
    return rows


def test_auc_counts_ties_half():
    assert auc([0.9, 0.1], [1, 0]) == 1.0
    assert auc([0.5, 0.5], [1, 0]) == 0.5
    assert auc([0.1, 0.9], [1, 0]) == 0.0


def test_out_of_fold_auc_keeps_a_real_signal_and_not_noise():
    assert cross_validated_auc(_rows(40, informative=True), ["f"], 1.0, 5) > 0.95
    assert abs(cross_validated_auc(_rows(40, informative=False), ["f"], 1.0, 5) - 0.5) < 0.25
