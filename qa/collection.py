"""Collection: several corpora side by side, each a folder of documents with its own index and manifest.

    shelf = Collections(settings)
    shelf.names()                          # ["default", "reports", "wiki"]
    shelf.create("wiki", Path("~/wiki"))   # an existing folder, linked in; without a folder: a new empty one
    shelf.settings_for("wiki").corpus_dir  # data/collections/wiki (-> ~/wiki), index in ~/wiki/.qa-index

"default" is the corpus the settings name (seeds/, or --corpus). Every other collection is a folder, or a
link to one, in `Settings.collections_root` (data/collections): making a folder there is making a collection,
and its index lives in the folder, as `qa index --corpus FOLDER` keeps it. Nothing else records them, so the
CLI, the web app and a second replica see the same collections.

With QA_DATABASE_URL the default collection's index is the database's public schema and every other one's is
the schema `qa_c_NAME` of the same database (the URL's connections put it first on their search path), made
by its first build; the folder still holds its documents. A collection is then one with a folder here or a
schema there, so a replica on another machine serves every collection that has been indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from qa.errors import BadQuestionError, IndexCorruptError, IndexMismatchError, QAError
from qa.records import Manifest
from qa.settings import Settings
from qa.store import read_manifest

DEFAULT = "default"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
INDEX_FOLDER = ".qa-index"
SCHEMA_PREFIX = "qa_c_"
PG_NAME_MAX = 63  # PostgreSQL cuts longer identifiers short


class CollectionNotFoundError(QAError):
    http_status = 404


class CollectionExistsError(QAError):
    http_status = 409


@dataclass(frozen=True)
class Collection:
    name: str
    corpus_dir: Path  # the documents (a link's target, resolved)
    index_dir: Path
    linked: bool = False  # a folder outside collections_root, linked in
    database_url: str | None = None  # its index in PostgreSQL (a schema of QA_DATABASE_URL's database)

    def manifest(self) -> Manifest | None:
        """Its index's manifest; None when it has none yet (or an unreadable one: opening it says so).
        An unreachable database is an error (DatabaseUnavailableError), not an empty collection."""
        if self.database_url is not None:
            from qa.pgstore import stored_manifest

            try:
                return stored_manifest(self.database_url)
            except (IndexCorruptError, IndexMismatchError):
                return None
        try:
            return read_manifest(self.index_dir)
        except QAError:
            return None


class Collections:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.collections_root

    def names(self) -> list[str]:
        names = {p.name for p in self._folders()} | self._schemas()
        return [DEFAULT, *sorted(n for n in names if NAME.fullmatch(n) and n != DEFAULT)]

    def _schemas(self) -> set[str]:
        """Collections indexed into the database (by any replica), by name."""
        if not self.database_url:
            return set()
        from qa.pgstore import schemas_like

        return {s.removeprefix(SCHEMA_PREFIX) for s in schemas_like(self.database_url, SCHEMA_PREFIX)}

    @property
    def database_url(self) -> str | None:
        url = self.settings.database_url
        return url.get_secret_value() if url is not None else None

    def all(self) -> list[Collection]:
        return [self.get(name) for name in self.names()]

    def get(self, name: str | None) -> Collection:
        """The collection called `name` (None or "" is the default one), or CollectionNotFoundError."""
        s = self.settings
        if not name or name == DEFAULT:
            return Collection(DEFAULT, Path(s.corpus_dir), Path(s.index_dir), database_url=self.database_url)
        folder = self.root / name
        if not NAME.fullmatch(name) or not (folder.is_dir() or name in self._schemas()):
            raise CollectionNotFoundError(
                f"no collection named {name!r} (collections: {', '.join(self.names())}) — "
                f"`qa collection add {name}` makes one"
            )
        target = folder.resolve()
        if self.database_url:
            from qa.pgstore import with_schema

            url = with_schema(self.database_url, SCHEMA_PREFIX + name)
            return Collection(name, target, target / INDEX_FOLDER, folder.is_symlink(), database_url=url)
        return Collection(name, target, target / INDEX_FOLDER, linked=folder.is_symlink())

    def settings_for(self, name: str | None) -> Settings:
        """The settings with this collection's folder and index in place of the default ones."""
        c = self.get(name)
        if c.name == DEFAULT:
            return self.settings
        update: dict = {"corpus_dir": c.corpus_dir, "index_dir": c.index_dir}
        if c.database_url:
            update["database_url"] = SecretStr(c.database_url)
        return self.settings.model_copy(update=update)

    def create(self, name: str, folder: Path | None = None) -> Collection:
        """A new collection: `folder` (an existing folder of documents) linked in, or a new empty folder."""
        if not NAME.fullmatch(name) or name == DEFAULT:
            raise BadQuestionError(
                f"a collection name is 1-64 lower-case letters, digits, '-' or '_' (not {DEFAULT!r}): {name!r}"
            )
        if self.database_url and len(SCHEMA_PREFIX + name) > PG_NAME_MAX:
            raise BadQuestionError(
                f"with QA_DATABASE_URL a collection name has at most {PG_NAME_MAX - len(SCHEMA_PREFIX)} characters "
                f"(its schema is {SCHEMA_PREFIX}NAME): {name!r}"
            )
        if (self.root / name).exists() or (self.root / name).is_symlink() or name in self.names():
            raise CollectionExistsError(f"a collection named {name!r} already exists")
        self.root.mkdir(parents=True, exist_ok=True)
        if folder is None:
            (self.root / name).mkdir()
        else:
            target = Path(folder).expanduser().resolve()
            if not target.is_dir():
                raise CollectionNotFoundError(f"{folder} is not a folder")
            (self.root / name).symlink_to(target, target_is_directory=True)
        return self.get(name)

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if NAME.fullmatch(p.name) and p.is_dir()]
