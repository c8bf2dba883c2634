"""Answers (section `answers`): every ask of the gold set with the real model, timed stage by stage.

result = measure_answers(settings, models, limit=20, repeat=1)
result.metrics["answer.ttft_ms.p50"] == 2914.7      # the median over passes of each pass's p50
result.samples[0]["total_ms"]                       # one sample per ask, the assistant's own timings
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from eval.bench.gold import bench_gold
from eval.bench.model_load import Models
from eval.bench.records import json_fields
from eval.bench.summary import answer_summary, median_of
from eval.dataset import GoldItem

PER_MESSAGE = 5  # ChatML tokens around a message: <|im_start|>role\n … <|im_end|>\n


@dataclass(frozen=True)
class AnswerRun:
    items: int  # gold items asked (a conversation asks two turns)
    warmup: dict[str, float]  # timings of the answer that put the fixed prompt prefix in llama.cpp's cache
    runs: tuple[dict[str, float], ...]  # answer_summary() of each pass over the items
    samples: tuple[dict[str, Any], ...]  # one per ask: id, type, turn, refusal, timings, and its pass as "repeat"
    interrupted: bool  # Ctrl-C during a pass: the samples so far are kept, and the bench stops after saving
    fixed_prefix_tokens: int | None = None  # ≈ tokens of the cached system message and worked example

    @property
    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {f"answer.{k}": v for k, v in median_of(list(self.runs)).items()}
        m["answer.warmup_total_ms"] = self.warmup.get("total_ms")
        if self.fixed_prefix_tokens:
            m["answer.fixed_prefix_tokens"] = self.fixed_prefix_tokens
        return m

    def to_json(self) -> dict[str, Any]:
        return json_fields(self, "items", "warmup", "runs", "samples", "interrupted")


def measure_answers(settings, models: Models, limit: int | None, repeat: int) -> AnswerRun:
    """The first `limit` gold items (all when None), `repeat` passes, after one warm-up answer, as in a
    server that has answered once. The models of the load section are used when it ran."""
    from eval.ask import select_items
    from qa.assistant import Assistant

    gold = bench_gold()
    items = select_items(gold, None, limit)
    assistant = Assistant(settings, embedder=models.embedder, generator=models.generator)
    assistant.load()
    warmup = flat_timings(assistant.ask(gold[-1].turns[0]))  # not the first item: its prompt would be all cached
    runs, samples, interrupted = _passes(assistant, items, repeat)
    prefix = fixed_prefix_tokens(assistant.generator)
    return AnswerRun(len(items), warmup, tuple(runs), tuple(samples), interrupted, prefix)


def _passes(assistant, items: list[GoldItem], repeat: int) -> tuple[list[dict], list[dict], bool]:
    """(summary of each pass, every sample, whether Ctrl-C cut a pass short)."""
    from tqdm import tqdm

    runs, samples = [], []
    for number in range(repeat):
        pass_samples, interrupted = [], False
        try:
            for item in tqdm(
                items, desc=f"answers {number + 1}/{repeat}", unit="q", file=sys.stderr, dynamic_ncols=True
            ):
                pass_samples += ask_item(assistant, item)
        except KeyboardInterrupt:  # keep what was measured; the caller saves it and stops
            interrupted = True
        if pass_samples:
            runs.append(answer_summary(pass_samples))
            samples += [{**s, "repeat": number} for s in pass_samples]
        if interrupted:
            return runs, samples, True
    return runs, samples, False


def ask_item(assistant, item: GoldItem) -> list[dict[str, Any]]:
    """One sample per ask: a conversation asks its first turn, then the follow-up with that history."""
    samples, history = [], []
    for turn, question in enumerate(item.turns, start=1):
        answer = assistant.ask(question, history)
        samples.append(
            {
                "id": item.id,
                "type": item.type,
                "turn": turn,
                "refused": answer.refused,
                "refusal_reason": answer.refusal_reason,
                **flat_timings(answer),
            }
        )
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    return samples


def flat_timings(answer) -> dict[str, float]:
    """An answer's stage times and token counts as one flat row, the shape of the bench's samples."""
    return {**asdict(answer.timings), **asdict(answer.usage)}


def fixed_prefix_tokens(generator) -> int | None:
    """≈ tokens of the system message and worked example, or None for a generator that cannot count tokens.

    Only LlamaCppGenerator has a tokenizer to ask (`count_tokens`); the fakes and an HTTP generator do not.
    """
    from qa.prompt import fixed_prefix

    count_tokens = getattr(generator, "count_tokens", None)
    if count_tokens is None:
        return None
    return sum(count_tokens(m["content"]) + PER_MESSAGE for m in fixed_prefix())
