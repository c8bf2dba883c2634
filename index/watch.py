"""Watch: rebuild the index whenever a document of the corpus folder is added, changed or removed.

    watch_corpus(Path("~/notes"), rebuild, stop=threading.Event())    # `qa index --watch`

Changes are gathered by watchfiles (inotify on Linux) and settled for `debounce_ms` first, so saving ten files
is one rebuild. Each rebuild is the usual incremental build (only new chunks are embedded; a removed file's
chunks go). Files the loader never reads (hidden ones, other types) and the index folder itself, which may
sit inside the corpus (`.qa-index`), start nothing. A rebuild that fails is reported and the old index stays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from index.build import BuildReport
from index.load import SUPPORTED
from qa.errors import QAError


def watch_corpus(
    corpus: Path,
    rebuild: Callable[[], BuildReport],
    report: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    index_dir: Path | None = None,
    debounce_ms: int = 1_000,
) -> None:
    """Block, rebuilding on each settled batch of changes, until `stop` is set (or Ctrl-C)."""
    from watchfiles import watch

    root = corpus.resolve()
    index_root = index_dir.resolve() if index_dir is not None else None

    def relevant(change, path: str) -> bool:
        p = Path(path)
        try:
            parts = p.resolve().relative_to(root).parts
        except ValueError:
            return False
        if index_root is not None and (p.resolve() == index_root or index_root in p.resolve().parents):
            return False
        return bool(parts) and not any(part.startswith(".") for part in parts) and p.suffix.lower() in SUPPORTED

    report(f"watching {corpus} for changes (Ctrl-C stops)")
    for changes in watch(corpus, watch_filter=relevant, debounce=debounce_ms, stop_event=stop, rust_timeout=500):
        names = sorted({Path(path).name for _, path in changes})
        try:
            report(f"changed: {', '.join(names[:5])}{' …' if len(names) > 5 else ''} — {rebuild().summary()}")
        except QAError as e:
            report(f"changed: {', '.join(names[:5])} — not indexed: {e} (the old index stays)")
