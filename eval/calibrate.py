"""Calibrate: fit the verifier's support model on the dev split of an eval run, and choose its threshold.

    qa eval --splits dev --no-gate                       # answers the dev questions, logging every claim's features
    python -m eval.calibrate eval/results/latest.json    # what each feature separates, and the fitted model
    python -m eval.calibrate eval/results/latest.json --write qa/support_model.json

Only dev items are used; a run with test items is refused for fitting (they are for reporting only).
A claim is labelled supported when its question is answerable and the claim itself holds the gold answer
(every must_contain group); any claim made about an unanswerable question is unsupported. The features are
standardised and fitted by an L2-regularised logistic regression. The threshold is then chosen on whole
answers, replaying the decision for each candidate: the lowest at which the dev questions that the documents
do not answer are refused at least --min-refusal of the time (the product's refusal target, 0.90): honesty
first, then as many answers as that allows.
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
from qa.support import FEATURES, SupportModel

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
    if args.cv and not args.report:
        print(
            f"out-of-fold support AUC ({args.cv} folds by item): {cross_validated_auc(rows, names, args.c, args.cv):.3f}"
        )
    model = SupportModel.load(args.model) if args.report else fit(rows, names, args.c)
    if not args.report:
        threshold, table = choose_threshold(model, items, gold, args.min_refusal)
        model = SupportModel(
            model.weights,
            model.means,
            model.scales,
            model.bias,
            threshold,
            f"{run['run']}: {len(rows)} claims of {len(items)} dev items; threshold {threshold}, the lowest that "
            f"refuses {args.min_refusal:.0%} of the dev questions the documents do not answer",
        )
        for t, o in table:
            mark = " <-" if t == threshold else ""
            print(
                f"  t={t:.2f} passed={o['passed']:.3f} answer_acc={o['answer_acc']:.3f} refusal={o['refusal']:.3f} "
                f"false_support={o['false_support']:.3f} false_refusal={o['false_refusal']:.3f}{mark}"
            )
    print("weights (standardised):", json.dumps({k: round(v, 3) for k, v in model.weights.items()}))
    print(f"support AUC {auc([model.score(r.features) for r in rows], [r.label for r in rows]):.3f}")
    print("rules and features, at the threshold:")
    for name, outcome in rule_effects(model, items, gold).items():
        print(f"  {name:45s} " + " ".join(f"{k}={v:.3f}" for k, v in outcome.items()))
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


def cross_validated_auc(rows: list[Row], names: list[str], c: float, folds: int) -> float:
    """AUC of scores each made by a model fitted without the claim's item (k folds, claims of one item kept
    together): what the fit would separate on questions it has not seen, unlike the in-sample AUC."""
    from sklearn.model_selection import GroupKFold

    scores = [0.0] * len(rows)
    groups = [r.item for r in rows]
    for train, held in GroupKFold(n_splits=folds).split(rows, groups=groups):
        model = fit([rows[i] for i in train], names, c)
        for i in held:
            scores[i] = model.score(rows[i].features)
    return auc(scores, [r.label for r in rows])


GATES = ("number not in the quotes", "claim not in the quotes")  # the notes that a score could overrule


def replay(
    model: SupportModel,
    item: dict[str, Any],
    g,
    threshold: float,
    gates: tuple[str, ...] = GATES,
    neutral: tuple[str, ...] = (),
) -> dict[str, bool]:
    """The outcome of one answered item had the model, threshold, gates and features been these (the draft is
    the same: greedy decoding). A neutral feature counts as its mean (its contribution removed)."""
    kept = []
    for check in item.get("checks", []):
        if check["note"] in gates or (check["note"] and check["note"] not in GATES) or not check["features"]:
            continue
        features = {k: v for k, v in check["features"].items() if k not in neutral}
        if check["quotes"] and model.score(features) >= threshold:
            kept.append(check["text"])
    refused = not kept
    correct = g.answerable and not refused and not missing_groups(" ".join(kept), g.must_contain)
    return {"refused": refused, "correct": correct, "false_support": not g.answerable and not refused}


def outcomes(
    model: SupportModel,
    items: list[dict[str, Any]],
    gold: dict[str, Any],
    threshold: float,
    gates: tuple[str, ...] = GATES,
    neutral: tuple[str, ...] = (),
) -> dict[str, float]:
    answerable = refusable = passed = correct = false_support = false_refusal = 0
    for item in items:
        g = gold[f"{item['suite']}:{item['id']}"]
        if item.get("refusal_reason") in ("low_similarity", "no_passages"):
            o = {"refused": True, "correct": False, "false_support": False}
        else:
            o = replay(model, item, g, threshold, gates, neutral)
        answerable += g.answerable
        refusable += not g.answerable
        passed += o["correct"] if g.answerable else o["refused"]
        correct += o["correct"]
        false_support += o["false_support"]
        false_refusal += g.answerable and o["refused"]
    return {
        "passed": passed / max(1, len(items)),
        "answer_acc": correct / max(1, answerable),
        "refusal": 1 - false_support / max(1, refusable),
        "false_support": false_support / max(1, refusable),
        "false_refusal": false_refusal / max(1, answerable),
    }


def choose_threshold(model, items, gold, min_refusal: float) -> tuple[float, list]:
    """The lowest threshold at which the items' questions that the documents do not answer are refused at
    least `min_refusal` of the time (the refusal target): honesty first, then as many answers as that allows."""
    table = [(t, outcomes(model, items, gold, t)) for t in GRID]
    feasible = [t for t, o in table if o["refusal"] >= min_refusal]
    return (feasible[0] if feasible else GRID[-1]), table


def rule_effects(model: SupportModel, items, gold) -> dict[str, dict[str, float]]:
    """What the decision gets at the model's threshold with everything, without each gate, and with each
    feature of the support model neutralised; and how precise the refusals before generation were."""
    t = model.threshold
    effects = {"everything": outcomes(model, items, gold, t)}
    for gate in GATES:
        effects[f"without the gate '{gate}'"] = outcomes(model, items, gold, t, tuple(x for x in GATES if x != gate))
    for name in model.features:
        effects[f"without the feature {name}"] = outcomes(model, items, gold, t, neutral=(name,))
    pre = [i for i in items if i.get("refusal_reason") == "low_similarity"]
    pre_ok = sum(1 for i in pre if not gold[f"{i['suite']}:{i['id']}"].answerable)
    effects["low_similarity (before generating)"] = {"refused": float(len(pre)), "of_them_unanswerable": float(pre_ok)}
    return effects


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
    p.add_argument("--min-refusal", type=float, default=0.90, help="refusal target on dev (default: 0.90)")
    p.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "qa" / "support_model.json")
    p.add_argument("--cv", type=int, default=5, help="folds for the out-of-fold AUC (0: none)")
    p.add_argument("--report", action="store_true", help="replay --model on the run (any split) without fitting")
    p.add_argument("--write", type=Path, help="write the fitted model here")
    return p


if __name__ == "__main__":
    sys.exit(main())
