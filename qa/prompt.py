"""Prompt: numbered evidence + question -> the chat messages the model sees.

    prompt = build_prompt("How many…?", [Evidence(n=1, header="Survey report (July 2022)", text="Only 34 …")])
    prompt.messages[-1]["content"].startswith("[1] Survey report (July 2022)")

The system message and a worked example are fixed and come first, so llama.cpp keeps them in its cache
between questions: the example costs prompt time once per process, not per answer.
Passage numbers here are the `[n]` that qa/cite.py reads back: n is the passage's rank, from 1.
"""

from __future__ import annotations

import json
import re
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
    sentences: tuple[str, ...] = ()  # the sentences themselves, one per span


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    evidence: list[Evidence]
    numbered: tuple[tuple[int, int, int], ...] = ()  # extract mode: sentence (k) is (passage n, start, end)


@lru_cache(maxsize=4)
def _template(name: str = "answer.j2"):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(PROMPTS), undefined=StrictUndefined, keep_trailing_newline=False)
    return env.get_template(name)


PREFIX_FILES = {"cite": ("system.txt", "example.json"), "extract": ("extract_system.txt", "extract_example.json")}
EXTRACT = re.compile(r"Evidence:\s*((?:\(\d+\)\s*)*)\s*Answer:\s?(.*)", re.DOTALL)


@lru_cache(maxsize=2)
def fixed_prefix(mode: str = "cite") -> tuple[dict[str, str], ...]:
    """The system message and worked examples: the same for every question, so llama.cpp caches them.

    "cite": the model answers and puts [n] after what it used; "extract": it first lists the numbers of the
    sentences that state the answer (under a grammar, extract.gbnf), then answers from them."""
    system_file, example_file = PREFIX_FILES[mode]
    system = {"role": "system", "content": (PROMPTS / system_file).read_text(encoding="utf-8").strip()}
    example = json.loads((PROMPTS / example_file).read_text(encoding="utf-8"))
    return (system, *example)


@lru_cache(maxsize=1)
def extract_grammar() -> str:
    return (PROMPTS / "extract.gbnf").read_text(encoding="utf-8")


def build_prompt(
    question: str, evidence: list[Evidence], previous_question: str = "", previous_answer: str = ""
) -> Prompt:
    user = _template().render(
        passages=evidence, question=question, previous_question=previous_question, previous_answer=previous_answer
    )
    messages = [*fixed_prefix(), {"role": "user", "content": user.strip()}]
    return Prompt(messages, evidence)


def build_extract_prompt(
    question: str, evidence: list[Evidence], previous_question: str = "", previous_answer: str = ""
) -> Prompt:
    """The evidence with every sentence numbered (1)..(m) across passages, for the extract mode."""
    numbered, blocks = [], []
    for block in evidence:
        rows = []
        for (start, end), sentence in zip(block.spans, block.sentences):
            numbered.append((block.n, start, end))
            rows.append((len(numbered), sentence))
        blocks.append({"n": block.n, "header": block.header, "numbered": rows})
    user = _template("extract.j2").render(
        passages=blocks, question=question, previous_question=previous_question, previous_answer=previous_answer
    )
    messages = [*fixed_prefix("extract"), {"role": "user", "content": user.strip()}]
    return Prompt(messages, evidence, tuple(numbered))


def read_extract(prompt: Prompt, raw: str) -> tuple[list[tuple[int, int, int]], str]:
    """(the picked sentences as (passage n, start, end), the answer) of an extract-mode reply.

    read_extract(prompt, "Evidence: (2)\nAnswer: Delegates from 41 countries came.")[1]
    == "Delegates from 41 countries came."
    Numbers out of range are dropped; a reply not in the format is all answer, with no picks."""
    m = EXTRACT.match(raw.strip())
    if not m:
        return [], raw.strip()
    picks = [int(k) for k in re.findall(r"\d+", m.group(1))]
    return [prompt.numbered[k - 1] for k in dict.fromkeys(picks) if 1 <= k <= len(prompt.numbered)], m.group(2).strip()


def judge_messages(question: str, text: str, mode: str = "cite") -> list[dict[str, str]]:
    """The verifier's yes/no question about one quote: after the fixed prefix, so llama.cpp reuses its cache.

    judge_messages("Who chaired it?", "Press release (2024): Malta chaired it.")[-1]["content"]
    == "Text: Press release (2024): Malta chaired it.\nQuestion: Who chaired it?\nIs the answer to this …"
    Of the wordings tried on the dev claims (eval/calibrate.py), this one separated best: AUC 0.854, against
    0.829 for "Does this text answer this exact question?" and 0.736 with the proposed answer shown.
    """
    user = _template("judge.j2").render(question=question, text=text)
    return [*fixed_prefix(mode), {"role": "user", "content": user.strip()}]
