"""A server for load tests: the real app and pipeline over an index of seeds/ built with the fake embedder,
with a fake model that sleeps per token, so the web layer is loaded without the real model's CPU cost.

    python tests/load_server.py --port 8123 --token-seconds 0.02      # then: python -m eval.load --url …

The fake model answers with the first sentence of passage [1], cited, so answers go through citation
checking like real ones.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fakes.py, when run as a script or imported

from qa.generate import Stream  # noqa: E402

from fakes import FakeEmbedder, FakeGenerator  # noqa: E402


def first_sentence_of_passage_1(messages: list[dict[str, str]]) -> str:
    match = re.search(r"^\[1\][^\n]*\n(.+?[.!?])(?=\s|$)", messages[-1]["content"], re.M | re.S)
    return f"{match.group(1)} [1]" if match else "The documents do not say."


class SlowGenerator(FakeGenerator):
    """The fake model at a real model's pace: `token_seconds` per streamed piece."""

    def __init__(self, token_seconds: float = 0.02) -> None:
        super().__init__(first_sentence_of_passage_1)
        self.token_seconds = token_seconds

    def generate(self, messages, max_tokens=96, grammar=None):
        stream = Stream(super().generate(messages, max_tokens))
        for piece in stream:
            time.sleep(self.token_seconds)
            yield piece
        return stream.generation


def build_app(work_dir: Path, token_seconds: float, **app_options):
    import shutil

    from index.build import build_index
    from qa.assistant import Assistant
    from qa.settings import ROOT, Settings
    from web.app import create_app

    shutil.copytree(ROOT / "seeds", work_dir / "corpus")
    build_index(work_dir / "corpus", work_dir / "store", FakeEmbedder())
    settings = Settings(corpus_dir=work_dir / "corpus", index_dir=work_dir / "store")
    assistant = Assistant(settings, embedder=FakeEmbedder(), generator=SlowGenerator(token_seconds))
    return create_app(assistant, **app_options)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-seconds", type=float, default=0.02)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        app = build_app(Path(tmp), args.token_seconds, allowed_hosts=("127.0.0.1", "localhost", "::1"))
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", server_header=False)


if __name__ == "__main__":
    main()
