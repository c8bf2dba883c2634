"""The `qa` command: ask and chat here; every other package adds its own subcommands.

    qa ask "Who chaired the OSCE in 2024?" --json
    qa chat                          # interactive, keeps the conversation
    qa index --corpus ~/notes        # from index/cli.py;  qa serve: web/cli.py;  qa eval, qa bench: eval/cli.py

Packages register through the `qa.commands` entry point group (pyproject.toml), each with a
`register(commands: Commands)` function, so this module imports none of them (simonw/llm's register_commands).
Errors are one line on stderr and a non-zero exit code; no tracebacks (QA_DEBUG=1 shows them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from qa.errors import BadQuestionError, QAError
from qa.records import Answer

ENTRY_POINTS = "qa.commands"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int | None] | Callable[[list[str]], int]
    raw: bool = False  # takes the rest of the command line as it is (its own option parser)


class Commands:
    """What a package's `register` hook receives: add a subcommand with its options, or one that parses its own."""

    def __init__(self, sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        self._sub, self._common = sub, common
        self.raw: dict[str, Command] = {}

    def add(self, name: str, run: Callable[[argparse.Namespace], int | None], help: str) -> argparse.ArgumentParser:
        """A subcommand with the common --corpus/--index/--model options; returns its parser for more."""
        parser = self._sub.add_parser(name, parents=[self._common], help=help, description=help)
        parser.set_defaults(run=run)
        return parser

    def add_raw(self, name: str, run: Callable[[list[str]], int], help: str) -> None:
        """A subcommand whose options all go to its own parser (`qa eval --retrieval-only`)."""
        self._sub.add_parser(name, help=help, add_help=False)
        self.raw[name] = Command(name, help, run, raw=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = _parser()
    if argv and argv[0] in commands.raw:  # every option goes to the command's own parser
        rest = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        return _guarded(lambda: commands.raw[argv[0]].run(rest))
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
        if _debug():
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (set QA_DEBUG=1 for details)", file=sys.stderr)
        return 2


def _debug() -> bool:
    """QA_DEBUG, read through Settings like every other setting (False if the settings themselves are bad)."""
    from qa.settings import Settings

    try:
        return Settings().debug
    except Exception:
        return False


def _parser() -> tuple[argparse.ArgumentParser, Commands]:
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions from a folder of documents, offline.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="folder of documents (default: seeds/)")
    common.add_argument("--collection", help="a collection by name (`qa collection list`) instead of --corpus")
    common.add_argument("--index", type=Path, dest="index_dir", help="index folder (default: index/store)")
    common.add_argument("--model", type=Path, dest="model_path", help="a GGUF chat model to use instead of the default")
    commands = Commands(parser.add_subparsers(dest="command"), common)
    register(commands)
    for hook in entry_points(group=ENTRY_POINTS):
        hook.load()(commands)
    return parser, commands


def register(commands: Commands) -> None:
    p = commands.add("ask", cmd_ask, "answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    commands.add("chat", cmd_chat, "ask questions interactively; follow-ups use the conversation")
    p = commands.add("collection", cmd_collection, "list collections, or add one (a folder of documents)")
    p.add_argument("action", choices=["list", "add"])
    p.add_argument("name", nargs="?", help="add: the new collection's name")
    p.add_argument("folder", nargs="?", type=Path, help="add: an existing folder to link in (default: a new one)")


def settings_from(args: argparse.Namespace):
    """Settings for the common options: a --corpus without --index keeps its index in <corpus>/.qa-index;
    --collection NAME takes that collection's folder and index."""
    from qa.collection import Collections
    from qa.settings import Settings

    corpus, index_dir, name = (getattr(args, k, None) for k in ("corpus", "index_dir", "collection"))
    if name and (corpus or index_dir):
        raise QAError("give either --collection or --corpus/--index, not both")
    settings = Settings.for_corpus(corpus, index_dir, model_path=getattr(args, "model_path", None))
    return Collections(settings).settings_for(name) if name else settings


def cmd_collection(args: argparse.Namespace) -> int:
    from qa.collection import Collections

    shelf = Collections(settings_from(argparse.Namespace(**{**vars(args), "collection": None})))
    if args.action == "add":
        if not args.name:
            raise QAError("usage: qa collection add NAME [FOLDER]")
        c = shelf.create(args.name, args.folder)
        where = f"{c.corpus_dir} (linked)" if c.linked else f"{c.corpus_dir} (empty: put documents there)"
        print(f"collection {c.name}: {where}\nindex it with: qa index --collection {c.name}")
        return 0
    for c in shelf.all():
        m = c.manifest()
        state = f"{len(m.files)} documents, {m.n_chunks} chunks" if m else "not indexed"
        print(f"{c.name:<20} {state:<32} {c.corpus_dir}")
    return 0


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
    if live and answer.usage.completion_tokens:
        print()
    print(format_answer(answer))
    return answer


def format_answer(answer: Answer) -> str:
    lines = [answer.text]
    if answer.refused and answer.draft:
        lines.append("(the model's draft was withdrawn: no sentence of the documents states it)")
    if answer.search_query and answer.search_query != answer.question:
        lines.append(f"(searched for: {answer.search_query})")
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            where = f", {c.location}" if c.location else ""
            lines.append(f"  [{c.n}] {c.source}{where} (chars {c.start}-{c.end}): “{c.quote}”")
    elif answer.passages:
        lines.append("\nClosest passages (similarity):")
        for i, p in enumerate(answer.passages[:3], start=1):
            snippet = " ".join(p.text.split())[:160]
            lines.append(f"  {i}. {p.source} ({p.similarity:.2f}): {snippet}…")
    t = answer.timings
    lines.append(
        f"\n[retrieval {t.retrieve_ms:.0f} ms · first token {t.ttft_ms / 1000:.1f} s · "
        f"verification {t.verify_ms / 1000:.1f} s · total {t.total_ms / 1000:.1f} s · "
        f"{answer.usage.prompt_tokens} prompt tokens]"
    )
    return "\n".join(lines)


def progress_bar(description: str, unit: str = "it") -> Callable[[int, int], None]:
    """A tqdm bar on stderr, fed (done, total) by long work: indexing, model assembly."""
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
