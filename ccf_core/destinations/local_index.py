"""The embedded destination: a SQLite + FTS5 index of what Amazon Q Business would receive.

It keeps each document's metadata, typed attributes, ACL and the text of text content types, the
group memberships a connector reports, and answers searches the way Q Business filters them: by the
searcher's user id and (transitive) groups.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from ccf_core.destinations.local_search import (
    SEARCH_TIME_LIMIT_SECONDS,
    SNIPPET_SOURCE_CHARS,
    SearchHit,
    SearchResults,
    SearchTimeout,
    acl_allows,
    fts_query,
    query_terms,
    snippet,
)
from ccf_core.destinations.text_extract import extract_text
from ccf_core.models.acl import Group
from ccf_core.ports import BatchLimits, BatchResult, PreparedDocument, RunInfo
from ccf_core.report import Failure, RunStatus
from ccf_core.sqlite_transaction import locked_transaction

logger = logging.getLogger(__name__)

#: What an attribute value is decoded back to: string, string list, long or date.
StoredAttribute = str | list[str] | int | datetime

SCHEMA_VERSION = 2

# External-content FTS5: the text lives once, in `documents`; the triggers keep the index in step
# with every insert, upsert and delete. Documents are keyed by connector and id, as Q Business keys
# them by data source and id: two connectors may use the same ids in one index.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    connector TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    content_type TEXT,
    source_uri TEXT,
    created_at TEXT,
    last_updated_at TEXT,
    attributes TEXT NOT NULL,
    acl TEXT NOT NULL,
    acl_relation TEXT NOT NULL,
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL,
    text TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    UNIQUE (connector, id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    title, text, content='documents', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text)
    VALUES ('delete', old.rowid, old.title, old.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_au AFTER UPDATE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text)
    VALUES ('delete', old.rowid, old.title, old.text);
    INSERT INTO documents_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TABLE IF NOT EXISTS group_members (
    group_name TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('user', 'group')),
    member TEXT NOT NULL,
    PRIMARY KEY (group_name, member_type, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_by_member ON group_members (member_type, member);
"""

_UPSERT = """
INSERT INTO documents (connector, id, title, content_type, source_uri, created_at, last_updated_at,
    attributes, acl, acl_relation, checksum, size, text, indexed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (connector, id) DO UPDATE SET title = excluded.title, content_type = excluded.content_type,
    source_uri = excluded.source_uri, created_at = excluded.created_at,
    last_updated_at = excluded.last_updated_at, attributes = excluded.attributes, acl = excluded.acl,
    acl_relation = excluded.acl_relation, checksum = excluded.checksum, size = excluded.size,
    text = excluded.text, indexed_at = excluded.indexed_at
"""
_COLUMNS = """connector, id, title, content_type, source_uri, created_at, last_updated_at, attributes, acl,
    acl_relation, checksum, size, text, indexed_at"""
_SELECT_ONE = (
    f"SELECT {_COLUMNS} FROM documents WHERE id = ? AND (? IS NULL OR connector = ?) ORDER BY connector"  # noqa: S608
)
_SELECT_PAGE = (
    f"SELECT {_COLUMNS} FROM documents WHERE (? IS NULL OR connector = ?) "  # noqa: S608
    "ORDER BY connector, id LIMIT ? OFFSET ?"
)
# Snippets are made in Python from the start of the text (see local_search.snippet): FTS5's
# snippet() reads and scores every match of the whole text, minutes for a large document full of
# the searched word.
_SEARCH = (
    "SELECT d.rowid, d.connector, d.id, d.title, d.source_uri, d.content_type, d.acl, d.acl_relation, "
    "bm25(documents_fts) AS rank "
    "FROM documents_fts JOIN documents AS d ON d.rowid = documents_fts.rowid "
    "WHERE documents_fts MATCH ? ORDER BY rank, d.rowid LIMIT ? OFFSET ?"
)


@dataclass(frozen=True)
class StoredDocument:
    """A document as the local index holds it.

    ``acl`` is the list of Q Business ``AccessControl`` structures (camelCase keys) and
    ``access_control_relation`` how they combine ("AND" or "OR"); ``text`` is the extracted text
    ("" for binary content types).
    """

    connector: str
    id: str
    title: str
    content_type: str | None
    source_uri: str | None
    created_at: datetime | None
    last_updated_at: datetime | None
    attributes: dict[str, StoredAttribute]
    acl: list[dict[str, Any]]
    access_control_relation: str
    checksum: str
    size: int
    text: str
    indexed_at: datetime


def _schema_statements() -> list[str]:
    """The schema as single statements (executescript would end the surrounding transaction)."""
    statements, current = [], []
    for line in _SCHEMA.strip().splitlines():
        current.append(line)
        if line.rstrip().endswith(";") and (not line.startswith("    ") or line.strip() == "END;"):
            statements.append("\n".join(current))
            current = []
    return statements


def _encode_attributes(attributes: Mapping[str, object]) -> str:
    encoded: dict[str, dict[str, object]] = {}
    for name, value in attributes.items():
        if isinstance(value, datetime):
            encoded[name] = {"type": "date", "value": value.isoformat()}
        elif isinstance(value, int) and not isinstance(value, bool):
            encoded[name] = {"type": "long", "value": value}
        elif isinstance(value, list):
            encoded[name] = {"type": "string_list", "value": [str(item) for item in value]}
        else:
            encoded[name] = {"type": "string", "value": str(value)}
    return json.dumps(encoded, ensure_ascii=False, sort_keys=True)


def _decode_attributes(stored: str) -> dict[str, StoredAttribute]:
    decoded: dict[str, StoredAttribute] = {}
    for name, item in json.loads(stored).items():
        value = item["value"]
        decoded[name] = datetime.fromisoformat(value) if item["type"] == "date" else value
    return decoded


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _stored(row: Sequence[Any]) -> StoredDocument:
    (
        connector,
        doc_id,
        title,
        ctype,
        uri,
        created,
        updated,
        attributes,
        acl,
        relation,
        checksum,
        size,
        text,
        at,
    ) = row
    return StoredDocument(
        connector, doc_id, title, ctype, uri, _parse(created), _parse(updated),
        _decode_attributes(attributes), json.loads(acl), relation, checksum, size, text,
        datetime.fromisoformat(at),
    )  # fmt: skip


class LocalIndex:
    """A :class:`~ccf_core.ports.Destination` in one SQLite file (default ``.ccf/index.db``).

    The object stays usable for reads after ``close(status)`` ends a run; ``shutdown()`` (or leaving
    a ``with`` block) closes the database connection.
    """

    name: str = "local"
    limits: BatchLimits = BatchLimits(
        max_documents=500, max_bytes=64 * 1024 * 1024, max_delete_ids=500, max_in_flight=1
    )

    def __init__(self, path: str | os.PathLike[str] = ".ccf/index.db") -> None:
        """Open (creating it and its folder if needed) the index at ``path``."""
        self.path = Path(path)
        #: State is kept per index file: another file is another destination.
        self.identity = f"local:{self.path.resolve()}"
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared with the engine's worker threads; the lock serialises its use.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        try:
            self._create_schema()
        except sqlite3.Error:
            self._db.close()
            raise
        self._run: RunInfo | None = None

    def _create_schema(self) -> None:
        """Create the tables; an index of an older format is emptied and gets a new generation."""
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                logger.warning(
                    "local index %s has an older format (%d): it is emptied, and the next run of each "
                    "connector sends everything again",
                    self.path,
                    version,
                )
                for table in ("documents_fts", "documents", "group_members", "meta"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _schema_statements():
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', ?)", (uuid.uuid4().hex,)
            )
            self.generation: str = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]

    def describe(self) -> str:
        """Where the index lives, for the runner's first output line."""
        return f"local index {self.path}"

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return locked_transaction(self._db, self._lock)

    # -- Destination -------------------------------------------------------------------------

    def open(self, run: RunInfo) -> None:
        """Start a run: the documents it sends and deletes are the run's connector's."""
        self._run = run
        logger.info("local index %s: run %s of %s started", self.path, run.run_id, run.connector)

    def worker_factory(self) -> Callable[[Any], LocalIndex] | None:
        """What opens this index again in another process, in the run under way (for
        :mod:`ccf_core.upload_worker`); None outside a run, for an index in memory, and for a
        subclass (which may behave otherwise: it gives its own factory, or runs in the engine's)."""
        if type(self) is not LocalIndex or self._run is None or str(self.path) == ":memory:":
            return None
        run = self._run
        return partial(_opened_copy, str(self.path), run.connector, run.run_id, run.full)

    def close(self, status: RunStatus) -> None:
        """End a run. The connection stays open for searches; see :meth:`shutdown`."""
        with self._lock:
            self._db.execute("PRAGMA optimize")
        run_id = self._run.run_id if self._run else "?"
        logger.info("local index %s: run %s ended (%s)", self.path, run_id, status.value)
        self._run = None

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        """Add or replace a batch of documents in one transaction.

        Args:
            batch: Validated documents with their checksums.

        Returns:
            The ids stored, and a ``content_unreadable`` failure for each document whose content
            could not be read (the rest of the batch is still stored).
        """
        result = BatchResult()
        rows: list[tuple[object, ...]] = []
        now = datetime.now(UTC).isoformat()
        for prepared in batch:
            doc = prepared.document
            try:
                data = prepared.read_bytes()
            except OSError as err:
                where = str(doc.file.path) if doc.file is not None else "in-memory content"
                message = f"cannot read {where}: {err.strerror or err}"
                result.failures.append(Failure(doc.id, "content_unreadable", message))
                continue
            content_type = prepared.resolved_content_type()
            meta = doc.metadata
            rows.append(
                (
                    self._connector(),
                    doc.id,
                    meta.title,
                    None if content_type is None else content_type.value,
                    meta.source_uri,
                    _iso(meta.created_at),
                    _iso(meta.last_updated_at),
                    _encode_attributes(meta.attributes),
                    json.dumps(
                        [control.to_api() for control in meta.access_control_list], ensure_ascii=False
                    ),
                    meta.access_control_relation.value,
                    prepared.checksum,
                    prepared.size,
                    extract_text(content_type, data),
                    now,
                )
            )
            result.accepted.append(doc.id)
        if rows:
            with self._transaction() as db:
                db.executemany(_UPSERT, rows)
        return result

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        """Delete documents; ids the index does not hold count as deleted, as in Q Business."""
        connector = self._connector()
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM documents WHERE connector = ? AND id = ?",
                [(connector, doc_id) for doc_id in document_ids],
            )
        return BatchResult(accepted=list(document_ids))

    def _connector(self) -> str:
        # Outside a run (a direct call), documents belong to no connector.
        return self._run.connector if self._run is not None else ""

    def list_synced(self, connector: str) -> Iterator[tuple[str, str]]:
        """``(id, checksum)`` of every document of ``connector`` the index holds (for reconciling)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, checksum FROM documents WHERE connector = ? ORDER BY id", (connector,)
            ).fetchall()
        yield from rows

    def put_groups(self, groups: Sequence[Group]) -> BatchResult:
        """Store each group's direct members (users and groups), replacing its previous members."""
        with self._transaction() as db:
            for group in groups:
                db.execute("DELETE FROM group_members WHERE group_name = ?", (group.name,))
                members = [(group.name, "user", user) for user in group.users]
                members += [(group.name, "group", child) for child in group.groups]
                db.executemany(
                    "INSERT OR IGNORE INTO group_members (group_name, member_type, member) VALUES (?, ?, ?)",
                    members,
                )
        return BatchResult(accepted=[group.name for group in groups])

    def delete_groups(self, names: Sequence[str]) -> BatchResult:
        """Remove groups and their memberships; unknown names count as deleted."""
        with self._transaction() as db:
            for name in names:
                db.execute("DELETE FROM group_members WHERE group_name = ?", (name,))
        return BatchResult(accepted=list(names))

    # -- Reading -----------------------------------------------------------------------------

    def count(self, connector: str | None = None) -> int:
        """How many documents the index holds (of one connector, when given)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM documents WHERE (? IS NULL OR connector = ?)", (connector, connector)
            ).fetchone()
        return int(row[0])

    def get(self, doc_id: str, connector: str | None = None) -> StoredDocument | None:
        """The stored document with this id (of ``connector``, or of the first connector that has it)."""
        with self._lock:
            row = self._db.execute(_SELECT_ONE, (doc_id, connector, connector)).fetchone()
        return None if row is None else _stored(row)

    def list_documents(
        self, limit: int | None = None, offset: int = 0, connector: str | None = None
    ) -> list[StoredDocument]:
        """Stored documents ordered by connector and id; ``limit=None`` means all of them."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_PAGE, (connector, connector, -1 if limit is None else limit, offset)
            ).fetchall()
        return [_stored(row) for row in rows]

    def groups_of(self, user_id: str | None, extra_groups: Iterable[str] = ()) -> set[str]:
        """Every group a user belongs to, directly or through other groups.

        Args:
            user_id: The user, as in ``Group.users``; None for "no user" (only ``extra_groups``).
            extra_groups: Groups to count as the user's own, e.g. from ``--as-group``.

        Returns:
            The user's direct groups and ``extra_groups``, plus every group containing any of
            them, transitively (membership cycles are tolerated).
        """
        with self._lock:
            found = set(extra_groups)
            if user_id is not None:
                rows = self._db.execute(
                    "SELECT group_name FROM group_members WHERE member_type = 'user' AND member = ?",
                    (user_id,),
                )
                found.update(name for (name,) in rows)
            frontier = list(found)
            while frontier:
                child = frontier.pop()
                rows = self._db.execute(
                    "SELECT group_name FROM group_members WHERE member_type = 'group' AND member = ?",
                    (child,),
                )
                for (parent,) in rows.fetchall():
                    if parent not in found:
                        found.add(parent)
                        frontier.append(parent)
        return found

    def search(
        self, query: str, *, user: str | None = None, groups: Iterable[str] = (), limit: int = 10
    ) -> list[SearchHit]:
        """Full-text search over titles and text, best matches first (see :meth:`search_results`)."""
        return self.search_results(query, user=user, groups=groups, limit=limit).hits

    def search_results(
        self,
        query: str,
        *,
        user: str | None = None,
        groups: Iterable[str] = (),
        limit: int = 10,
        time_limit: float = SEARCH_TIME_LIMIT_SECONDS,
    ) -> SearchResults:
        """Full-text search over titles and text, best matches first, with the count ACLs hid.

        Every distinct word of ``query`` must occur (FTS5 syntax in it is taken literally; past
        :data:`MAX_QUERY_TERMS` words the rest are ignored). With no ``user`` and no ``groups``
        nothing is filtered (the administrator's view); otherwise only documents the ACL lets that
        searcher see are returned, as in Amazon Q Business, and ``hidden`` counts the matching
        documents it hid (at most those it looked at).

        Args:
            query: Free text.
            user: The searcher's user id.
            groups: Groups the searcher belongs to besides those the index knows of.
            limit: At most this many hits.
            time_limit: Seconds after which the search stops with :class:`SearchTimeout`.

        Returns:
            Up to ``limit`` hits, and the hidden count.
        """
        terms = query_terms(query)
        extra_groups = list(groups)
        if not terms or limit <= 0:
            return SearchResults([])
        match = fts_query(terms)
        filtered = user is not None or bool(extra_groups)
        searcher_groups = self.groups_of(user, extra_groups) if filtered else set()
        page = max(limit * 4, 50) if filtered else limit
        found: list[tuple[int, SearchHit]] = []
        hidden = 0
        offset = 0
        with self._lock, self._time_limit(time_limit):
            while len(found) < limit:
                rows = self._db.execute(_SEARCH, (match, page, offset)).fetchall()
                for rowid, connector, doc_id, title, uri, ctype, acl, relation, rank in rows:
                    if filtered and not acl_allows(json.loads(acl), relation, user, searcher_groups):
                        hidden += 1
                        continue
                    found.append((rowid, SearchHit(connector, doc_id, title, uri, ctype, "", -float(rank))))
                    if len(found) == limit:
                        break
                if len(rows) < page:
                    break
                offset += page
            hits = [self._with_snippet(rowid, hit, terms) for rowid, hit in found]
        return SearchResults(hits, hidden)

    def _with_snippet(self, rowid: int, hit: SearchHit, terms: Sequence[str]) -> SearchHit:
        (head,) = self._db.execute(
            "SELECT substr(text, 1, ?) FROM documents WHERE rowid = ?", (SNIPPET_SOURCE_CHARS, rowid)
        ).fetchone()
        excerpt = snippet(head, terms) or snippet(hit.title, terms)
        return SearchHit(
            hit.connector, hit.id, hit.title, hit.source_uri, hit.content_type, excerpt, hit.score
        )

    @contextmanager
    def _time_limit(self, seconds: float) -> Iterator[None]:
        """Interrupt the queries run inside past ``seconds``, raising :class:`SearchTimeout`."""
        deadline = time.monotonic() + seconds
        self._db.set_progress_handler(lambda: int(time.monotonic() > deadline), 1_000)
        try:
            yield
        except sqlite3.OperationalError as err:
            if time.monotonic() > deadline and "interrupt" in str(err):
                raise SearchTimeout(
                    f"the search took longer than {seconds:g}s and was stopped; use fewer or rarer words"
                ) from None
            raise
        finally:
            self._db.set_progress_handler(None, 0)

    # -- Lifecycle ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Close the database connection; the object cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()


def _opened_copy(path: str, connector: str, run_id: str, full: bool, cancel_event: Any) -> LocalIndex:
    """The index at ``path``, opened for a run already started in another process."""
    index = LocalIndex(path)
    index._run = RunInfo(connector, run_id, full, cancel_event=cancel_event)
    return index
