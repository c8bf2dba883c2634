"""Dataset: the hand-written gold questions of eval/gold.jsonl, loaded and checked into frozen records.

    items = load_gold(Path("eval/gold.jsonl"))
    items[0].id == "sf-01" and items[0].sources == ("000_d2af82de5b2a880a.txt",)

One JSON object a line: id, type, question (or turns: a 2-turn conversation whose second turn is graded),
answer (for people), must_contain (groups of alternatives, all groups required) and sources (gold files).
A bad line stops the load with `path:line: what is wrong`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"
ANSWERABLE_TYPES = ("single_fact", "list", "multi_doc", "temporal", "paraphrase", "menu", "conversation")
REFUSAL_TYPES = ("unanswerable", "off_topic")  # the documents hold no answer: the assistant must refuse
TYPES = ANSWERABLE_TYPES + REFUSAL_TYPES
KEYS = {"id", "type", "question", "turns", "answer", "must_contain", "sources"}


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


def load_gold(path: Path = GOLD_PATH) -> list[GoldItem]:
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
    return GoldItem(item_id, kind, turns, answer, must_contain, tuple(sources))


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
