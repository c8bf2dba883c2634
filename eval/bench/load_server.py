"""Load server: the real app and pipeline over an index of seeds/, with stand-in models that cost no CPU
(a hashing embedder, and a generator that sleeps per piece as a real model would take), so that a load
test measures the web layer: its waiting line, 503s, streaming and memory.

    python -m eval.bench.load_server --port 8123 --token-seconds 0.02   # then: python -m eval.bench.loadtest --url …
    app = build_app(Path(tmp), token_seconds=0, api_key="key")          # in-process (the fuzz test serves it so)

The stand-in answers with the first sentence of passage [1], cited, so answers go through citation checking
like real ones. It is the benchmark's own (eval imports no test code; tests/fakes.py has the unit tests'
stand-ins), and the one module of eval that imports web: serving the app is what it is for.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Generator as Deltas
from pathlib import Path

import numpy as np

from qa.records import Generation, Usage
from qa.tokens import terms

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class HashEmbedder:
    """A hashed bag of `qa.tokens.terms`, unit rows: texts that share words have a positive cosine, others ~0."""

    name = "load-server-hash-embedder"
    dim = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text):
                digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()  # stable, unlike hash()
                vectors[row, 1 + int.from_bytes(digest, "little") % (self.dim - 1)] += 1.0
            if not vectors[row].any():
                vectors[row, 0] = 1.0  # so that every row has unit length
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class PacedGenerator:
    """Streams the first sentence of passage [1], cited, word by word, `token_seconds` per piece.

    messages = [{"role": "user", "content": "[1] OSCE report\nOnly 34 do. The rest do not.\n\nQuestion: …"}]
    "".join(PacedGenerator(0).generate(messages)) == "Only 34 do. [1]"
    """

    name = "paced-generator"

    def __init__(self, token_seconds: float = 0.02) -> None:
        self.token_seconds = token_seconds

    def generate(
        self, messages: list[dict[str, str]], max_tokens: int = 96, grammar: str | None = None
    ) -> Deltas[str, None, Generation]:
        pieces = word_pieces(first_sentence_of_passage_1(messages))
        for piece in pieces:
            time.sleep(self.token_seconds)
            yield piece
        prompt_words = sum(len(m["content"].split()) for m in messages)
        return Generation(Usage(prompt_words, len(pieces)))

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        return overlap_judge(messages)


def overlap_judge(messages: list[dict[str, str]]) -> float:
    """A yes/no judge by word overlap: the share of the question's terms that the text holds (0.05..0.95)."""
    user = messages[-1]["content"]
    text = user.split("\nQuestion: ", 1)[0].removeprefix("Text: ")
    question = user.split("\nQuestion: ", 1)[-1].split("\n", 1)[0]
    asked = set(terms(question))
    share = len(asked & set(terms(text))) / len(asked) if asked else 0.0
    return 0.05 + 0.9 * share


def word_pieces(text: str) -> list[str]:
    """ "Only 34 do [1]." -> ["Only", " 34", " do", " [1]."]: word-sized deltas that join back exactly."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    return [p for p in pieces if p]


def first_sentence_of_passage_1(messages: list[dict[str, str]]) -> str:
    """The reply of a model that quotes its best passage: passage [1]'s first sentence, cited as [1]."""
    match = re.search(r"^\[1\][^\n]*\n(.+?[.!?])(?=\s|$)", messages[-1]["content"], re.M | re.S)
    return f"{match.group(1)} [1]" if match else "The documents do not say."


def build_app(work_dir: Path, token_seconds: float, **app_options):
    """The web app over a copy of seeds/ in work_dir, indexed with the hashing embedder; `app_options` go
    to web.app.create_app (api_key, allowed_hosts, max_waiting)."""
    from index.build import build_index
    from qa.assistant import Assistant
    from qa.settings import ROOT, Settings
    from web.app import create_app

    shutil.copytree(ROOT / "seeds", work_dir / "corpus")
    build_index(work_dir / "corpus", work_dir / "store", HashEmbedder())
    settings = Settings(
        corpus_dir=work_dir / "corpus", index_dir=work_dir / "store", collections_dir=work_dir / "collections"
    )
    assistant = Assistant(settings, embedder=HashEmbedder(), generator=PacedGenerator(token_seconds))
    return create_app(assistant, **app_options)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m eval.bench.load_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-seconds", type=float, default=0.02)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        app = build_app(Path(tmp), args.token_seconds, allowed_hosts=LOOPBACK_NAMES)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", server_header=False)


if __name__ == "__main__":
    main()
