"""Dataset: the hand-written gold questions, by corpus and split, loaded and checked into frozen records.

    items = load_suite(Suite("seeds", "dev"))          # eval/gold/dev/seeds*.jsonl
    items[0].id == "sf-01" and items[0].sources == ("000_d2af82de5b2a880a.txt",)

Layout: eval/gold/<split>/<corpus>*.jsonl. `dev` is for tuning; `test` is only reported (never debugged
item by item). Each corpus is a folder of real documents (CORPORA): the seeds, and git's own documentation.
One JSON object a line: id, type, kind (optional label), question (or turns: a 2-turn conversation whose
second turn is graded), answer (for people), must_contain (groups of alternatives, all groups required) and
sources (gold files). A bad line stops the load with `path:line: what is wrong`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
GOLD_DIR = EVAL_DIR / "gold"
CORPORA = {  # corpus name -> its folder of documents
    "seeds": EVAL_DIR.parent / "seeds",
    "git": EVAL_DIR / "corpora" / "git" / "docs",  # Debian's git-doc pages (eval/corpora/git/README.md)
}
SPLITS = ("dev", "test")
ANSWERABLE_TYPES = ("single_fact", "list", "multi_doc", "temporal", "paraphrase", "menu", "conversation")
# the documents hold no answer: the assistant must refuse. Adversarial questions name people, places, years or
# commands the documents contain (off-corpus facts, false premises, near figures, neighbouring numbers).
REFUSAL_TYPES = ("unanswerable", "off_topic", "adversarial")
TYPES = ANSWERABLE_TYPES + REFUSAL_TYPES
KEYS = {"id", "type", "kind", "question", "turns", "answer", "must_contain", "sources"}


class GoldError(ValueError):
    """A gold line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class GoldItem:
    id: str
    type: str
    turns: tuple[str, ...]  # one question, or the two turns of a conversation
    answer: str
    must_contain: tuple[tuple[str, ...], ...]
    sources: tuple[str, ...]
    kind: str = ""  # a finer label: "option", "default", "false_premise", …
    suite: str = ""  # "seeds/test": the corpus and split it came from

    @property
    def question(self) -> str:
        """The graded question: the last turn."""
        return self.turns[-1]

    @property
    def previous(self) -> str:
        """The turn before the graded one ("" for a single question)."""
        return self.turns[-2] if len(self.turns) > 1 else ""

    @property
    def answerable(self) -> bool:
        return self.type in ANSWERABLE_TYPES


@dataclass(frozen=True)
class Suite:
    """One corpus and one split of its gold questions: Suite("git", "test").name == "git/test"."""

    corpus: str
    split: str
    gold_files: tuple[Path, ...] = ()  # defaults to eval/gold/<split>/<corpus>*.jsonl
    corpus_dir: Path | None = None  # defaults to CORPORA[corpus]

    @property
    def name(self) -> str:
        return f"{self.corpus}/{self.split}"

    @property
    def files(self) -> tuple[Path, ...]:
        return self.gold_files or tuple(sorted((GOLD_DIR / self.split).glob(f"{self.corpus}*.jsonl")))

    @property
    def folder(self) -> Path:
        return self.corpus_dir or CORPORA[self.corpus]


def suites(corpora: list[str] | None = None, splits: list[str] | None = None) -> list[Suite]:
    """The standard suites, corpus by corpus: suites(["seeds"], ["test"]) == [Suite("seeds", "test")]."""
    unknown = sorted(set(corpora or []) - set(CORPORA)) + sorted(set(splits or []) - set(SPLITS))
    if unknown:
        raise GoldError(
            f"unknown corpus or split {', '.join(unknown)}; corpora: {', '.join(CORPORA)}; splits: dev, test"
        )
    return [Suite(c, s) for c in corpora or CORPORA for s in splits or SPLITS]


def load_suite(suite: Suite) -> list[GoldItem]:
    """Every item of a suite's gold files, ids unique across them, each tagged with the suite's name."""
    if not suite.files:
        raise GoldError(
            f"no gold files for {suite.name} (looked for {GOLD_DIR / suite.split / (suite.corpus + '*.jsonl')})"
        )
    items: list[GoldItem] = []
    for path in suite.files:
        items += [replace(item, suite=suite.name) for item in load_gold(path)]
    duplicates = sorted(i for i, n in Counter(item.id for item in items).items() if n > 1)
    if duplicates:
        raise GoldError(f"{suite.name}: duplicate id(s) {', '.join(duplicates)}")
    return items


def load_gold(path: Path) -> list[GoldItem]:
    """All items of a gold file, in file order; raises GoldError on the first bad line."""
    items: list[GoldItem] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = parse_item(json.loads(line))
            except (ValueError, TypeError) as e:  # json.JSONDecodeError is a ValueError
                raise GoldError(f"{path}:{number}: {e}") from None
            if item.id in seen:
                raise GoldError(f"{path}:{number}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise GoldError(f"{path}: no gold items")
    return items


def parse_item(raw: object) -> GoldItem:
    """One checked GoldItem from a decoded JSON line.

    parse_item({"id": "a", "type": "off_topic", "question": "Why?", "answer": "", "must_contain": [],
                "sources": []}).turns == ("Why?",)
    """
    if not isinstance(raw, dict):
        raise GoldError(f"expected a JSON object, got {type(raw).__name__}")
    unknown = set(raw) - KEYS
    if unknown:
        raise GoldError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
    item_id = _text(raw, "id")
    kind = _text(raw, "type")
    if kind not in TYPES:
        raise GoldError(f"{item_id}: type {kind!r} is not one of {', '.join(TYPES)}")
    turns = _turns(raw, item_id, kind)
    must_contain = _groups(raw.get("must_contain"), item_id)
    sources = raw.get("sources")
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        raise GoldError(f"{item_id}: sources must be a list of file names")
    answer = raw.get("answer", "")
    if not isinstance(answer, str):
        raise GoldError(f"{item_id}: answer must be a string")
    if kind in ANSWERABLE_TYPES and not (must_contain and sources):
        raise GoldError(f"{item_id}: an answerable item needs must_contain and sources")
    if kind in REFUSAL_TYPES and (must_contain or sources):
        raise GoldError(f"{item_id}: a {kind} item has no must_contain and no sources")
    label = raw.get("kind", "")
    if not isinstance(label, str):
        raise GoldError(f"{item_id}: kind must be a string")
    return GoldItem(item_id, kind, turns, answer, must_contain, tuple(sources), label.strip())


def _text(raw: dict, key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise GoldError(f"{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _turns(raw: dict, item_id: str, kind: str) -> tuple[str, ...]:
    if ("question" in raw) == ("turns" in raw):
        raise GoldError(f"{item_id}: give exactly one of question or turns")
    if kind == "conversation":
        turns = raw.get("turns")
        if not isinstance(turns, list) or len(turns) != 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise GoldError(f"{item_id}: a conversation needs turns: [first question, graded follow-up]")
        return tuple(t.strip() for t in turns)
    if "turns" in raw:
        raise GoldError(f"{item_id}: only conversation items have turns")
    return (_text(raw, "question"),)


def _groups(value: object, item_id: str) -> tuple[tuple[str, ...], ...]:
    ok = isinstance(value, list) and all(
        isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g) for g in value
    )
    if not ok:
        raise GoldError(f"{item_id}: must_contain must be a list of non-empty lists of strings, got {value!r}")
    return tuple(tuple(g) for g in value)
