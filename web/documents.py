"""Documents: files added to and removed from the corpus folder through the page and the API, then indexed.

    indexer = Indexer(settings, assistant)
    job = indexer.add([Upload("report.docx", data)], overwrite=False)   # checked now, indexed in the background
    indexer.job(job.id).state                                            # "queued" -> "indexing" -> "done"
    job = indexer.delete("report.docx")
    job = indexer.add(uploads, into=reports_assistant)                  # another collection's folder and index

Each upload is checked before anything is written: its name (no folders, no hidden or control characters,
an allowed type), its size, and that it reads as its type (index/load.py's reader: a broken or
password-protected file is refused with the loader's reason). A name already in the folder is refused unless
`overwrite` is set. Accepted files are written under a hidden temporary name and renamed into place.

Jobs run one at a time on their own thread, so the model keeps answering meanwhile: each is one incremental
build (index/build.py: only new chunks are embedded), with its own embedder (a tokenizer is not safe to share
between threads), then the assistant opens the new index. A build that fails leaves the old index answering,
and the folder as it was: added files are removed again (an overwritten one comes back), a deleted one returns.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.assistant import Assistant
from qa.collection import DEFAULT
from qa.corpus import BuildOutcome, corpus_indexing
from qa.corpus import UnreadableError as Unreadable
from qa.embed import Embedder
from qa.errors import QAError
from qa.settings import Settings

log = logging.getLogger("web")
MAX_FILES = 50  # per request
MAX_NAME_CHARS = 200
KEPT_JOBS = 100
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


INDEXING = corpus_indexing()  # index/'s reader and build, through qa.corpus (web does not import index)
SUPPORTED, MAX_FILE_BYTES = INDEXING.supported, INDEXING.max_file_bytes


class UploadLimits:
    """What the page says and the server enforces about uploads."""

    file_bytes = MAX_FILE_BYTES  # one file, as the loader reads it
    request_bytes = 200 * 1024 * 1024  # one POST /api/documents, all its files together
    types = sorted(SUPPORTED)


@dataclass(frozen=True)
class Upload:
    name: str  # as the client sent it
    data: bytes


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


@dataclass
class IndexJob:
    """One add or delete and its build: what the page polls for progress."""

    id: str
    action: str  # "add" | "delete"
    files: list[str]  # the names written (add) or removed (delete)
    collection: str = "default"
    refused: list[Refused] = field(default_factory=list)  # refused before indexing, with the reason
    state: str = "queued"  # -> "indexing" -> "done" | "failed"
    phase: str = "waiting for the indexer"
    embedded: int = 0
    to_embed: int = 0
    summary: str = ""
    error: str = ""
    indexed: dict[str, int] = field(default_factory=dict)  # file -> chunks, once done
    skipped: list[Refused] = field(default_factory=list)  # files the build left out, with the reason
    started: float = field(default_factory=time.time)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "collection": self.collection,
            "files": self.files,
            "refused": [{"name": r.name, "reason": r.reason} for r in self.refused],
            "state": self.state,
            "phase": self.phase,
            "embedded": self.embedded,
            "to_embed": self.to_embed,
            "summary": self.summary,
            "error": self.error,
            "indexed": self.indexed,
            "skipped": [{"name": r.name, "reason": r.reason} for r in self.skipped],
            "seconds": round(self.seconds, 1),
        }


def safe_name(name: str) -> str:
    """The file name an upload is stored under, or Unreadable with why it is refused.

    safe_name("C:\\\\Users\\\\ann\\\\report.docx") == "report.docx"; safe_name("../../etc/passwd") raises.
    """
    base = re.split(r"[/\\]", name)[-1].strip()
    if not base or base in (".", ".."):
        raise Unreadable("no file name")
    if base.startswith("."):
        raise Unreadable("hidden file names (starting with '.') are not indexed")
    if UNSAFE_NAME.search(base) or len(base) > MAX_NAME_CHARS:
        raise Unreadable(f'unsafe file name (control characters, one of :*?"<>| or over {MAX_NAME_CHARS} characters)')
    if ".." in name.replace("\\", "/").split("/"):
        raise Unreadable("file names with '..' folders are refused")
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED:
        raise Unreadable(f"unsupported type {suffix or '(none)'} (allowed: {', '.join(sorted(SUPPORTED))})")
    return base


class Indexer:
    def __init__(self, settings: Settings, assistant: Assistant, embedder: Embedder | None = None) -> None:
        """`embedder`: the one builds embed with (tests pass a fake); by default a second instance of the
        settings' model, loaded by the first build."""
        self.settings = settings
        self.assistant = assistant
        self._jobs: dict[str, IndexJob] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-index")
        self._embedder = embedder

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def job(self, job_id: str) -> IndexJob | None:
        return self._jobs.get(job_id)

    def add(self, uploads: list[Upload], overwrite: bool = False, into: Assistant | None = None) -> IndexJob:
        """Check each upload, write the accepted ones into the folder of `into` (by default this indexer's
        assistant), and queue their indexing (nothing is queued if none is accepted: the job is then "done" at
        once, with the reasons)."""
        if len(uploads) > MAX_FILES:
            raise UploadError(f"at most {MAX_FILES} files per upload, not {len(uploads)}")
        target = into or self.assistant
        corpus = Path(target.settings.corpus_dir)
        job = self._new_job("add", target)
        accepted: dict[str, bytes] = {}
        for upload in uploads:
            try:
                name = self._check(corpus, upload, overwrite, accepted)
            except Unreadable as e:
                job.refused.append(Refused(upload.name, str(e)))
                continue
            accepted[name] = upload.data
        if not accepted:
            job.state, job.phase, job.summary = "done", "nothing to index", "no file was accepted"
            return job
        backups = self._write(corpus, job, accepted)
        job.files = sorted(accepted)
        undo = lambda: self._undo_add(corpus, accepted, backups)  # noqa: E731
        self._executor.submit(self._run, job, target, undo, list(backups))
        return job

    def delete(self, source: str, into: Assistant | None = None) -> IndexJob:
        target = into or self.assistant
        path = self._existing(Path(target.settings.corpus_dir), source)
        job = self._new_job("delete", target)
        trash = path.with_name(f".qa-deleted-{job.id}-{path.name}")
        path.rename(trash)  # a hidden name: the loader skips it, and it can come back if the build fails
        job.files = [source]
        # A collection may become empty again (its index goes); the default corpus may not.
        last = target.collection != DEFAULT and not any(
            not p.name.startswith(".") for p in Path(target.settings.corpus_dir).iterdir()
        )
        self._executor.submit(self._run, job, target, lambda: trash.rename(path), [trash], last)
        return job

    # --- checks and files ---------------------------------------------------------------------------------

    def _check(self, corpus: Path, upload: Upload, overwrite: bool, accepted: dict[str, bytes]) -> str:
        name = safe_name(upload.name)
        if name in accepted:
            raise Unreadable("sent twice in this upload")
        if len(upload.data) > MAX_FILE_BYTES:
            raise Unreadable(f"too large ({len(upload.data) // 1_048_576} MiB > {MAX_FILE_BYTES // 1_048_576} MiB)")
        if (corpus / name).exists() and not overwrite:
            raise Unreadable(f"a document named {name} is already indexed; send overwrite=true to replace it")
        text = INDEXING.read(upload.data, Path(name).suffix.lower())  # Unreadable: broken, protected, not UTF-8
        if not text.strip():
            raise Unreadable("no text")
        return name

    def _write(self, corpus: Path, job: IndexJob, accepted: dict[str, bytes]) -> dict[Path, Path]:
        """Write each file under a hidden name, then rename it into place; an overwritten file is kept aside
        (hidden, so not indexed) until the build succeeds. Returns {kept aside: its own path}."""
        corpus.mkdir(parents=True, exist_ok=True)
        backups = {}
        for name, data in accepted.items():
            path = corpus / name
            tmp = corpus / f".qa-upload-{job.id}-{name}"
            tmp.write_bytes(data)
            if path.exists():
                backup = corpus / f".qa-replaced-{job.id}-{name}"
                path.rename(backup)
                backups[backup] = path
            os.replace(tmp, path)
        return backups

    def _undo_add(self, corpus: Path, accepted: dict[str, bytes], backups: dict[Path, Path]) -> None:
        for name in accepted:
            (corpus / name).unlink(missing_ok=True)
        for backup, path in backups.items():
            backup.rename(path)

    def _existing(self, corpus: Path, source: str) -> Path:
        """The corpus file named `source` (a name of the index, relative to the folder), never outside it."""
        root = corpus.resolve()
        path = (root / source).resolve()
        if root not in path.parents or not path.is_file() or any(p.startswith(".") for p in Path(source).parts):
            raise DocumentNotFoundError(f"no document named {source!r} in {corpus} — /api/documents lists them")
        return path

    def _new_job(self, action: str, target: Assistant) -> IndexJob:
        job = IndexJob(uuid.uuid4().hex[:12], action, [], collection=target.collection)
        with self._lock:
            self._jobs[job.id] = job
            for old in list(self._jobs)[:-KEPT_JOBS]:
                del self._jobs[old]
        return job

    # --- the build ------------------------------------------------------------------------------------------

    def _run(self, job: IndexJob, target: Assistant, undo, kept_aside: list[Path], empties: bool = False) -> None:
        from qa.embed import embedder_for

        started = time.perf_counter()
        job.state, job.phase = "indexing", "reading and chunking the documents"

        def progress(done: int, total: int) -> None:
            job.phase, job.embedded, job.to_embed = "embedding new passages", done, total

        try:
            if self._embedder is None:
                self._embedder = embedder_for(self.settings)
            if empties:
                INDEXING.remove(target.settings, self._embedder)
                target.close_index()
                report = BuildOutcome(f"collection {target.collection} is empty: its index was removed")
            else:
                report = INDEXING.build(target.settings, self._embedder, progress)
                job.phase = "opening the new index"
                target.use_index()
        except (QAError, OSError) as e:
            job.state, job.phase, job.error = "failed", "failed", f"{e} — the index was not changed"
            log.warning("indexing failed (%s %s): %s", job.action, ", ".join(job.files), e)
            try:
                undo()
            except OSError as undo_error:
                log.error("could not restore the documents folder after a failed build: %s", undo_error)
        except Exception as e:  # noqa: BLE001 - reported on the job; the traceback goes to the log
            job.state, job.phase = "failed", "failed"
            job.error = f"unexpected {type(e).__name__}: {e} — the index was not changed"
            log.exception("indexing failed")
            undo()
        else:
            for path in kept_aside:
                path.unlink(missing_ok=True)
            counts = {} if empties else {d.source: d.chunks for d in target.catalog().documents}
            job.indexed = {name: counts[name] for name in job.files if name in counts}
            job.skipped = [Refused(source, reason) for source, reason in report.skipped if source in job.files]
            job.state, job.phase, job.summary = "done", "done", report.summary
            log.info("indexed (%s %s): %s", job.action, ", ".join(job.files), report.summary)
        finally:
            job.seconds = time.perf_counter() - started


class UploadError(QAError):
    http_status = 400


class DocumentNotFoundError(QAError):
    http_status = 404
