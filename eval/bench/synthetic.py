"""Synthetic: corpora and vectors N× larger than the seeds, for the index and ann sections to build and search.

docs = synthesize_corpus(seeds, 100)            # (name, text) × 100 per seed: "0042_002_….txt"
write_corpus(docs, workdir / "corpus-x100")      # a folder `qa index` can build
vectors = replicate(store.vectors, 100_000, noise=0.02)
big = synthetic_store(store, vectors)            # the store's chunks repeated over those rows
chunks = synthetic_chunks(store.chunks, 100_000) # the same, each with its own id ("000042_002_….txt#3")
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

PROSE_WORDS = 8  # lines with fewer words (menus, dates, headings) are kept as they are
SWAP_SENTENCE = 0.3
NUMBER = re.compile(r"\b\d+\b")
MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b")  # a capitalised word after a lower-case one


def synthesize_corpus(docs: list[tuple[str, str]], scale: int, seed: int = 0) -> list[tuple[str, str]]:
    """scale × len(docs) (name, text) documents shaped like the seeds, each chunk new text to embed.

    Each copy keeps its seed's lines (titles, dates, menus: the cleaner drops the repeated menus as it
    would in a real site dump); in prose lines a share of sentences is swapped for sentences of other
    documents, every number is redrawn and capitalised names and places are permuted.
    synthesize_corpus([("a.txt", text)], 2)[1][0] == "0001_a.txt"
    """
    from qa.sentences import split_sentences

    pool = [s for _, text in docs for line in text.split("\n") if is_prose(line) for s in split_sentences(line)]
    names = sorted({w for _, text in docs for w in MID_SENTENCE_NAME.findall(text)})
    corpus = []
    for copy in range(scale):
        for source, text in docs:
            rng = random.Random(f"{seed}:{copy}:{source}")  # str seeds are hashed the same in every process
            renames = dict(zip(names, rng.sample(names, len(names))))
            lines = [_vary(line, pool, renames, rng) if is_prose(line) else line for line in text.split("\n")]
            corpus.append((f"{copy:04d}_{source}", "\n".join(lines)))
    return corpus


def is_prose(line: str) -> bool:
    """A line the synthesizer rewrites: is_prose("Home | News | Contact") is False (a menu stays as it is)."""
    return len(line.split()) >= PROSE_WORDS


def _vary(line: str, pool: list[str], renames: dict[str, str], rng: random.Random) -> str:
    from qa.sentences import split_sentences

    sentences = [rng.choice(pool) if pool and rng.random() < SWAP_SENTENCE else s for s in split_sentences(line)]
    text = " ".join(sentences)
    text = NUMBER.sub(lambda m: _redraw(m.group(0), rng), text)
    return MID_SENTENCE_NAME.sub(lambda m: renames.get(m.group(0), m.group(0)), text)


def _redraw(number: str, rng: random.Random) -> str:
    """Another number of the same shape: a year stays a plausible year."""
    if len(number) == 4 and number.startswith(("19", "20")):
        return str(rng.randint(2010, 2025))
    if len(number) == 1:
        return str(rng.randint(1, 9))
    return str(rng.randint(10 ** (len(number) - 1), 10 ** len(number) - 1))


def write_corpus(docs: list[tuple[str, str]], folder: Path) -> Path:
    """Each (name, text) as a UTF-8 file in folder (created); returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def replicate(vectors: np.ndarray, rows: int, noise: float, seed: int = 0) -> np.ndarray:
    """`rows` unit vectors: copies of `vectors` in turn, each but the first copy moved by Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = np.resize(vectors.astype(np.float32), (rows, vectors.shape[1]))
    out[len(vectors) :] += rng.normal(0, noise, size=(rows - len(vectors), vectors.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def interpolate(vectors: np.ndarray, rows: int, neighbours: int = 16, seed: int = 0) -> np.ndarray:
    """`rows` unit vectors: `vectors` themselves, then points drawn on the segments between a real vector and
    one of its `neighbours` nearest, so that the rows are distinct and lie where real ones do (copies moved by
    noise, `replicate`, put every query's exact top 10 among near-equal copies of one vector, where recall@10
    measures the noise; and isotropic noise is the hardest case for any graph index, unlike real embeddings).

    interpolate(v, 10 * len(v))[: len(v)] == v (as unit vectors)
    """
    import faiss

    base = np.ascontiguousarray(vectors, dtype=np.float32)
    rng = np.random.default_rng(seed)
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(base)
    k = min(neighbours, len(base) - 1)
    _, nearest = exact.search(base, k + 1)  # the first is the vector itself
    out = np.empty((rows, base.shape[1]), dtype=np.float32)
    out[: min(rows, len(base))] = base[:rows]
    for start in range(len(base), rows, 100_000):  # in blocks: a million rows at once would double the memory
        n = min(100_000, rows - start)
        a = rng.integers(0, len(base), n)
        b = nearest[a, rng.integers(1, k + 1, n)] if k > 0 else a
        t = rng.random((n, 1), dtype=np.float32)
        out[start : start + n] = base[a] + t * (base[b] - base[a])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def section_titles(chunks: list, n: int, seed: int = 0) -> list[str]:
    """`n` distinct section headings of `chunks` (the last part of each title path), drawn at random: short
    queries from the same documents as the rows, for a base with no gold questions of its own."""
    import random

    from qa.records import SECTION_SEPARATOR

    titles = sorted({c.title.split(SECTION_SEPARATOR)[-1] for c in chunks if c.title.strip()})
    return random.Random(seed).sample(titles, min(n, len(titles)))


def synthetic_store(base, vectors: np.ndarray, faiss_index: Any = None):
    """`base`'s chunks repeated in turn over the rows of `vectors` (the texts repeat, so BM25 does real work
    too); the FAISS index is built unless given (the ann section passes the HNSW index it timed)."""
    chunks = [base.chunks[i % len(base.chunks)] for i in range(len(vectors))]
    return base.with_vectors(chunks, vectors, faiss_index)


def synthetic_chunks(base: list, rows: int) -> list:
    """`base` repeated in turn to `rows` chunks, copy N's ids prefixed "N_" (a database wants unique ids).

    synthetic_chunks(chunks, 2 * len(chunks))[len(chunks)].chunk_id == "000001_" + chunks[0].chunk_id
    """
    return [
        replace(base[i % len(base)], chunk_id=f"{i // len(base):06d}_{base[i % len(base)].chunk_id}")
        for i in range(rows)
    ]
