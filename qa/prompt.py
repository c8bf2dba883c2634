"""Prompt: numbered evidence + question -> the chat messages the model sees.

    prompt = build_prompt("How many…?", [Evidence(n=1, header="Survey report (July 2022)", text="Only 34 …")])
    prompt.messages[-1]["content"].startswith("[1] Survey report (July 2022)")

The system message and a worked example are fixed and come first, so llama.cpp keeps them in its cache
between questions: the example costs prompt time once per process, not per answer.
Passage numbers here are the `[n]` that qa/cite.py reads back: n is the passage's rank, from 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROMPTS = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class Evidence:
    """Selected sentences of one passage, as shown to the model."""

    n: int
    header: str
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)  # sentence offsets into the cleaned source


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    evidence: list[Evidence]


@lru_cache(maxsize=2)
def _template(name: str = "answer.j2"):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(PROMPTS), undefined=StrictUndefined, keep_trailing_newline=False)
    return env.get_template(name)


@lru_cache(maxsize=1)
def fixed_prefix() -> tuple[dict[str, str], ...]:
    """The system message and a worked example: the same for every question, so llama.cpp caches them."""
    system = {"role": "system", "content": (PROMPTS / "system.txt").read_text(encoding="utf-8").strip()}
    example = json.loads((PROMPTS / "example.json").read_text(encoding="utf-8"))
    return (system, *example)


def build_prompt(
    question: str, evidence: list[Evidence], previous_question: str = "", previous_answer: str = ""
) -> Prompt:
    user = _template().render(passages=evidence, question=question, previous_question=previous_question,
                              previous_answer=previous_answer)  # fmt: skip
    messages = [*fixed_prefix(), {"role": "user", "content": user.strip()}]
    return Prompt(messages, evidence)


def judge_messages(question: str, text: str) -> list[dict[str, str]]:
    """The verifier's yes/no question about one quote: after the fixed prefix, so llama.cpp reuses its cache.

    judge_messages("Who chaired it?", "Press release (2024): Malta chaired it.")[-1]["content"]
    == "Text: Press release (2024): Malta chaired it.\nQuestion: Who chaired it?\nDoes this text answer …"
    """
    user = _template("judge.j2").render(question=question, text=text)
    return [*fixed_prefix(), {"role": "user", "content": user.strip()}]
