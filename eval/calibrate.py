"""Calibrate: fit the verifier's support model on the dev split of an eval run, and choose its threshold.

    qa eval --splits dev --no-gate                       # answers the dev questions, logging every claim's features
    python -m eval.calibrate eval/results/latest.json    # what each feature separates, and the fitted model
    python -m eval.calibrate eval/results/latest.json --write qa/support_model.json

Only dev items are used; a run with test items is refused for fitting (they are for reporting only).
A claim is labelled supported when its question is answerable and the claim itself holds the gold answer
(every must_contain group); any claim made about an unanswerable question is unsupported. The features are
standardised and fitted by an L2-regularised logistic regression. The threshold is then chosen on whole
answers, replaying the decision for each candidate: the most dev questions passed (a correct answer, or a
refusal where the documents hold none) while false support stays within --max-false-support.
`--report` replays a fitted model on any run (test included) without fitting: each feature's AUC and each
rule's effect, for the closing note.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.dataset import GOLD_DIR, Suite, load_suite
from eval.metrics import missing_groups
from qa.verify import FEATURES, SupportModel

GRID = [round(0.02 * i, 2) for i in range(1, 50)]


@dataclass(frozen=True)
class Row:
    item: str  # suite:id
    answerable: bool
    features: dict[str, float]
    label: int
    note: str
    text: str


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run = json.loads(args.run.read_text(encoding="utf-8"))
    gold = gold_items(run)
    items = [i for i in run["items"] if i.get("answer") is not None and not i.get("error")]
    if not args.report and any(not i.get("suite", "").endswith("/dev") for i in items):
        items = [i for i in items if i.get("suite", "").endswith("/dev")]
        print(f"fitting on the {len(items)} dev items only (the run has test items too)", file=sys.stderr)
    rows = claim_rows(items, gold)
    names = [f for f in (args.features.split(",") if args.features else FEATURES) if f]
    print(f"{len(items)} items, {len(rows)} scored claims ({sum(r.label for r in rows)} supported by the gold)")
    print("feature AUC (claim level; 0.5 = no separation):")
    for name in names:
        print(f"  {name:15s} {auc([r.features.get(name, 0.0) for r in rows], [r.label for r in rows]):.3f}")
    model = SupportModel.load(args.model) if args.report else fit(rows, names, args.c)
    if not args.report:
        threshold, table = choose_threshold(model, items, gold, args.max_false_support)
        model = SupportModel(
            model.weights,
            model.means,
            model.scales,
            model.bias,
            threshold,
            f"{run['run']}: {len(rows)} claims of {len(items)} dev items; "
            f"threshold {threshold} (max false support {args.max_false_support})",
        )
        for t, outcome in table:
            mark = " <-" if t == threshold else ""
            print(
                f"  t={t:.2f} passed={outcome['passed']:.3f} false_support={outcome['false_support']:.3f} "
                f"false_refusal={outcome['false_refusal']:.3f}{mark}"
            )
    print("weights (standardised):", json.dumps({k: round(v, 3) for k, v in model.weights.items()}))
    print(f"support AUC {auc([model.score(r.features) for r in rows], [r.label for r in rows]):.3f}")
    for name, outcome in rule_effects(model, items, gold).items():
        print(f"  {name:34s} " + " ".join(f"{k}={v:.3f}" for k, v in outcome.items()))
    if args.write:
        args.write.write_text(json.dumps(model_dict(model), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


def gold_items(run: dict[str, Any]) -> dict[str, Any]:
    """suite:id -> GoldItem for every suite of the run."""
    found = {}
    for name in run["gold"]["suites"]:
        corpus, split = name.split("/")
        if (GOLD_DIR / split).exists():
            found.update({f"{name}:{g.id}": g for g in load_suite(Suite(corpus, split))})
    return found


def claim_rows(items: list[dict[str, Any]], gold: dict[str, Any]) -> list[Row]:
    rows = []
    for item in items:
        g = gold[f"{item['suite']}:{item['id']}"]
        for check in item.get("checks", []):
            if check["note"]:
                continue
            holds = g.answerable and not missing_groups(check["text"], g.must_contain)
            rows.append(
                Row(
                    f"{item['suite']}:{item['id']}",
                    g.answerable,
                    check["features"],
                    int(holds),
                    check["note"],
                    check["text"],
                )
            )
    return rows


def fit(rows: list[Row], names: list[str], c: float) -> SupportModel:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r.features.get(n, 0.0) for n in names] for r in rows])
    y = np.array([r.label for r in rows])
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit((x - means) / scales, y)
    return SupportModel(
        {n: float(w) for n, w in zip(names, lr.coef_[0])},
        {n: float(m) for n, m in zip(names, means)},
        {n: float(s) for n, s in zip(names, scales)},
        float(lr.intercept_[0]),
        0.5,
    )


def replay(model: SupportModel, item: dict[str, Any], g, threshold: float, gates: bool = True) -> dict[str, bool]:
    """The outcome of one answered item had the model and threshold been these (the draft is the same)."""
    checks = item.get("checks", [])
    kept = []
    for check in checks:
        if check["note"] and (gates or check["note"] not in ("number not in the quotes", "claim not in the quotes")):
            continue
        if not check["features"]:
            continue
        if model.score(check["features"]) >= threshold:
            kept.append(check["text"])
    refused = not kept
    correct = g.answerable and not refused and not missing_groups(" ".join(kept), g.must_contain)
    return {"refused": refused, "correct": correct, "false_support": not g.answerable and not refused}


def outcomes(
    model: SupportModel, items: list[dict[str, Any]], gold: dict[str, Any], threshold: float, gates: bool = True
) -> dict[str, float]:
    answerable = refusable = passed = false_support = false_refusal = 0
    for item in items:
        g = gold[f"{item['suite']}:{item['id']}"]
        if item.get("refusal_reason") in ("low_similarity", "no_passages"):
            o = {"refused": True, "correct": False, "false_support": False}
        else:
            o = replay(model, item, g, threshold, gates)
        answerable += g.answerable
        refusable += not g.answerable
        passed += o["correct"] if g.answerable else o["refused"]
        false_support += o["false_support"]
        false_refusal += g.answerable and o["refused"]
    return {
        "passed": passed / max(1, len(items)),
        "false_support": false_support / max(1, refusable),
        "false_refusal": false_refusal / max(1, answerable),
    }


def choose_threshold(model, items, gold, max_false_support: float) -> tuple[float, list]:
    table = [(t, outcomes(model, items, gold, t)) for t in GRID]
    feasible = [(t, o) for t, o in table if o["false_support"] <= max_false_support] or table[-1:]
    best = max(o["passed"] for _, o in feasible)
    # of the thresholds that pass the most, the middle one: least tied to the last run
    ties = [t for t, o in feasible if o["passed"] == best]
    return ties[len(ties) // 2], table


def rule_effects(model: SupportModel, items, gold) -> dict[str, dict[str, float]]:
    """What the decision gets with and without the remaining rules, at the model's threshold."""
    base = outcomes(model, items, gold, model.threshold)
    no_gate = outcomes(model, items, gold, model.threshold, gates=False)
    pre = [i for i in items if i.get("refusal_reason") == "low_similarity"]
    pre_ok = sum(1 for i in pre if not gold[f"{i['suite']}:{i['id']}"].answerable)
    return {
        "all rules": base,
        "without the number and claim-words gates": no_gate,
        "low_similarity refusals": {"count": float(len(pre)), "of_them_unanswerable": float(pre_ok)},
    }


def auc(scores: list[float], labels: list[int]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def model_dict(model: SupportModel) -> dict[str, Any]:
    return {
        "fitted_on": model.fitted_on,
        "weights": model.weights,
        "means": model.means,
        "scales": model.scales,
        "bias": model.bias,
        "threshold": model.threshold,
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="an eval results JSON with the dev split")
    p.add_argument("--features", help=f"comma-separated features to fit (default: {','.join(FEATURES)})")
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
    p.add_argument("--max-false-support", type=float, default=0.02)
    p.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "qa" / "support_model.json")
    p.add_argument("--report", action="store_true", help="replay --model on the run (any split) without fitting")
    p.add_argument("--write", type=Path, help="write the fitted model here")
    return p


if __name__ == "__main__":
    sys.exit(main())
