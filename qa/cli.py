"""The `qa` command: setup, index, ask, chat, serve, eval, bench.

    qa index --corpus ~/notes        # build or update the index of a folder
    qa ask "Who chaired the OSCE in 2024?" --json
    qa chat                          # interactive, keeps the conversation

Errors are one line on stderr and a non-zero exit code; no tracebacks (QA_DEBUG=1 shows them).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Callable

from qa.errors import BadQuestionError, CorpusError, QAError
from qa.records import Answer


DELEGATED = {"eval": "eval.run", "bench": "eval.bench"}  # commands with their own option parsers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:  # `qa eval --retrieval-only`: every option goes to eval's own parser
        rest = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        return _guarded(lambda: importlib.import_module(DELEGATED[argv[0]]).main(rest))
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return _guarded(lambda: args.run(args) or 0)


def _guarded(run: Callable[[], int]) -> int:
    """Run a command; a failure is one line on stderr and an exit status, never a traceback."""
    try:
        return run()
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the last line of defence: one line, not a traceback
        if os.environ.get("QA_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (set QA_DEBUG=1 for details)", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions from a folder of documents, offline.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="folder of documents (default: seeds/)")
    common.add_argument("--index", type=Path, dest="index_dir", help="index folder (default: index/store)")
    common.add_argument("--model", type=Path, dest="model_path", help="a GGUF chat model to use instead of the default")
    sub = parser.add_subparsers(dest="command")

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(run=run)
        return p

    command("setup", cmd_setup, "assemble and verify the chat model, build the index if missing or stale")
    p = command("index", cmd_index, "build or update the index of the corpus folder")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    p = command("ask", cmd_ask, "answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    command("chat", cmd_chat, "ask questions interactively; follow-ups use the conversation")
    p = command("serve", cmd_serve, "start the chat page and HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    for name, help in (("eval", "run the gold question set and gate on thresholds (`qa eval --help`)"),
                       ("bench", "measure latency, throughput and memory (`qa bench --help`)")):  # fmt: skip
        sub.add_parser(name, help=help, add_help=False)  # listed here; main() hands their options over
    return parser


def settings_from(args: argparse.Namespace):
    from qa.settings import Settings

    return Settings.for_corpus(
        getattr(args, "corpus", None), getattr(args, "index_dir", None), model_path=getattr(args, "model_path", None)
    )


def cmd_setup(args: argparse.Namespace) -> int:
    from qa.assemble import model_path

    settings = settings_from(args)
    path = model_path(settings, _bar("assembling chat model", unit="B"))
    print(f"chat model: {path}")
    return cmd_index(args, settings)


def cmd_index(args: argparse.Namespace, settings=None) -> int:
    from index.build import ChunkerSettings, build_index
    from qa.embed import SentenceTransformerEmbedder

    s = settings or settings_from(args)
    embedder = SentenceTransformerEmbedder(s.embedding_model_path, precision=s.embedding_precision)
    chunker = ChunkerSettings(s.chunk_chars, s.chunk_max_chars, s.boilerplate_min_lines)
    try:
        report = build_index(
            s.corpus_dir, s.index_dir, embedder, chunker, getattr(args, "rebuild", False), _bar("embedding chunks")
        )
    except CorpusError as e:
        _warn_skipped(e.skipped)  # with nothing readable, why each file was left out matters most
        raise
    _warn_skipped(report.skipped)
    print(f"{s.index_dir}: {report.summary()}")
    return 0


def _warn_skipped(skipped: list) -> None:
    for file in skipped:
        print(f"warning: skipped {file.source}: {file.reason}", file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant

    question = readable(args.question)
    assistant = Assistant(settings_from(args))
    if args.json:
        print(json.dumps(assistant.ask(question).to_dict(), ensure_ascii=False, indent=2))
        return 0
    answer = _stream_to_terminal(assistant, question, [])
    return 0 if answer else 1


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant

    assistant = Assistant(settings_from(args))
    print("Ask a question about the documents (empty line or Ctrl-D to quit).", file=sys.stderr)
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return 0
        except UnicodeDecodeError:
            print("error: the question is not valid UTF-8 text", file=sys.stderr)
            continue
        if not question or question.lower() in {"exit", "quit"}:
            return 0
        try:
            answer = _stream_to_terminal(assistant, readable(question), history)
        except QAError as e:
            print(f"error: {e}", file=sys.stderr)
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def readable(question: str) -> str:
    """Bytes of argv that are not UTF-8 arrive as lone surrogates, which neither model can read."""
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise BadQuestionError("the question is not valid UTF-8 text") from None
    return question


def cmd_serve(args: argparse.Namespace) -> int:
    from web.app import serve

    serve(settings_from(args), host=args.host, port=args.port, open_browser=args.open)
    return 0


def _stream_to_terminal(assistant, question: str, history: list[dict[str, str]]) -> Answer:
    """On a terminal the draft streams in grey, then the verified answer follows; in a pipe only the latter."""
    answer = None
    live = sys.stdout.isatty()
    for event in assistant.ask_stream(question, history):
        if isinstance(event, Answer):
            answer = event
        elif live:
            print(f"\033[2m{event}\033[0m", end="", flush=True)
    assert answer is not None
    if live and answer.timings.get("completion_tokens"):
        print()
    print(format_answer(answer))
    return answer


def format_answer(answer: Answer) -> str:
    lines = [answer.text]
    if answer.search_query and answer.search_query != answer.question:
        lines.append(f"(searched for: {answer.search_query})")
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            lines.append(f"  [{c.n}] {c.source} (chars {c.start}-{c.end}): “{c.quote}”")
    elif answer.passages:
        lines.append("\nClosest passages (similarity):")
        for i, p in enumerate(answer.passages[:3], start=1):
            snippet = " ".join(p.text.split())[:160]
            lines.append(f"  {i}. {p.source} ({p.similarity:.2f}): {snippet}…")
    t = answer.timings
    lines.append(
        f"\n[retrieval {t.get('retrieve_ms', 0):.0f} ms · first token {t.get('ttft_ms', 0) / 1000:.1f} s · "
        f"total {t.get('total_ms', 0) / 1000:.1f} s · {t.get('prompt_tokens', 0)} prompt tokens]"
    )
    return "\n".join(lines)


def _bar(description: str, unit: str = "it") -> Callable[[int, int], None]:
    state: dict = {}

    def update(done: int, total: int) -> None:
        from tqdm import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "B", file=sys.stderr)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


if __name__ == "__main__":
    sys.exit(main())
