"""Errors whose messages say what to do next; translated once at each edge (CLI, HTTP)."""


class QAError(Exception):
    """Base class: the message is one line a user can act on."""

    http_status = 500
    transient = False  # a server that may come back (database, model server): worth trying again later


class BadQuestionError(QAError):
    http_status = 422


class IndexNotBuiltError(QAError):
    http_status = 503

    def __init__(self, index_dir: object) -> None:
        super().__init__(f"no index at {index_dir} — run `qa index` to build it")


class IndexMismatchError(QAError):
    http_status = 503


class IndexCorruptError(QAError):
    http_status = 503


class ModelNotFoundError(QAError):
    http_status = 503


class CorpusError(QAError):
    http_status = 400

    def __init__(self, message: str, skipped: list | None = None) -> None:
        super().__init__(message)
        self.skipped = skipped or []  # the files left out, so that the CLI can still say why


class ModelServerError(QAError):
    """The model server (QA_LLM_URL, QA_EMBEDDING_URL) is down, refused, or answered something unusable."""

    http_status = 502
    transient = True


class ModelTimeoutError(ModelServerError):
    """The model server sent nothing for QA_LLM_TIMEOUT seconds."""

    http_status = 504
