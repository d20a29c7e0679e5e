"""The embedded state store: checksums and checkpoints in a local SQLite file.

WAL journaling and one transaction per recorded batch mean a process killed in the middle of a
run keeps every batch it had recorded, and nothing half-written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ccf_core.errors import RunLocked
from ccf_core.sqlite_transaction import locked_transaction

logger = logging.getLogger(__name__)

#: How long a connection waits for another process's write to end before giving up.
BUSY_TIMEOUT_SECONDS = 60.0

#: The layout of the state file, kept in ``PRAGMA user_version``. 0: the first layout (one
#: ``synced`` table keyed by the scope's name); 1: scopes numbered, so a row's key holds a small
#: integer where it held the scope's name (about 130 characters), and the file takes half the room.
SCHEMA_VERSION = 1

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS scopes (
    id INTEGER PRIMARY KEY,
    connector TEXT NOT NULL,
    kind TEXT NOT NULL,
    UNIQUE (connector, kind)
)""",
    """
CREATE TABLE IF NOT EXISTS items (
    scope INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    checksum TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (scope, item_id)
) WITHOUT ROWID""",
    """
CREATE TABLE IF NOT EXISTS checkpoints (
    connector TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
)""",
)

_MOVED_BY_A_NEWER_RELEASE = (
    f"this state file was moved to layout {SCHEMA_VERSION} by a newer release of ccf: upgrade ccf "
    "(the ccf-framework package) to write to it"
)

#: The first layout's table as a view, for a person reading the file with ``sqlite3``. A release
#: of ccf from before the change can read through it, but its writes fail, saying why, instead of
#: going where no run of this release would look.
_SYNCED_VIEW = (
    """
CREATE VIEW IF NOT EXISTS synced AS
    SELECT scopes.connector, scopes.kind, items.item_id, items.checksum, items.synced_at
    FROM items JOIN scopes ON scopes.id = items.scope""",
    *(
        f"""
CREATE TRIGGER IF NOT EXISTS synced_refuses_{action.lower()} INSTEAD OF {action} ON synced
BEGIN
    SELECT RAISE(ABORT, '{_MOVED_BY_A_NEWER_RELEASE}');
END"""
        for action in ("INSERT", "UPDATE", "DELETE")
    ),
)

#: The rows of the first layout's ``synced`` table, moved to the numbered scopes.
_MIGRATE_FROM_0 = (
    "INSERT OR IGNORE INTO scopes (connector, kind) SELECT DISTINCT connector, kind FROM synced",
    """
INSERT OR REPLACE INTO items (scope, item_id, checksum, synced_at)
    SELECT scopes.id, synced.item_id, synced.checksum, synced.synced_at
    FROM synced JOIN scopes ON scopes.connector = synced.connector AND scopes.kind = synced.kind""",
    "DROP TABLE synced",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _describe_holder(raw: str) -> str:
    try:
        holder = json.loads(raw)
        return f"process {holder['pid']} on {holder['host']}, started at {holder['started_at']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


class SqliteStateStore:
    """A :class:`~ccf_core.ports.StateStore` in one SQLite file (default ``.ccf/state.db``)."""

    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str] = ".ccf/state.db", *, move: bool = True) -> None:
        """Open (or create) the state file at ``path``.

        ``move=False`` refuses a file of an earlier layout instead of moving it to this one (a dry
        run changes nothing).

        Raises:
            sqlite3.Error: the file cannot be opened, is of a newer layout, or (``move=False``) of
                an earlier one.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
        )
        # Each scope's number, once known (a scope is never renumbered: its row is never removed).
        self._scope_ids: dict[tuple[str, str], int] = {}
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._open_layout(move)
        except sqlite3.Error:
            self._db.close()
            raise

    def _open_layout(self, move: bool) -> None:
        """Create the tables, or bring a file of an earlier layout to this one (in one transaction).

        Raises:
            sqlite3.DatabaseError: the file was written by a newer release, in a layout this one
                does not know; or it is of an earlier layout and ``move`` is False.
            sqlite3.OperationalError: another process held the file past the busy timeout (moving
                a large file, say).
        """
        version = self._layout()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path} holds state in layout {version}, written by a newer release of ccf; this "
                f"release reads layouts up to {SCHEMA_VERSION}. Upgrade ccf (the ccf-framework package), or "
                "point --state at another file"
            )
        if not move and self._has_first_layout():
            raise sqlite3.DatabaseError(
                f"{self.path} holds state written by an earlier release of ccf, which this one moves to "
                "its own layout when it first runs (some seconds a million records): a dry run changes "
                "nothing, so run once without --dry-run first"
            )
        try:
            self._create_or_move()
        except sqlite3.OperationalError as err:
            raise sqlite3.OperationalError(
                f"{self.path}: {err} (another process held it past {BUSY_TIMEOUT_SECONDS:g} s: a run of "
                "an earlier release, or one moving a large file to this release's layout; try again)"
            ) from err

    def _has_first_layout(self) -> bool:
        found = self._db.execute("SELECT type FROM sqlite_master WHERE name = 'synced'").fetchone()
        return found is not None and found[0] == "table"

    def _create_or_move(self) -> None:
        moved = False
        with locked_transaction(self._db, self._lock, "BEGIN IMMEDIATE") as db:
            if self._layout() == SCHEMA_VERSION:  # another process got there first
                return
            first = self._has_first_layout()
            for statement in _SCHEMA:
                db.execute(statement)
            if first:
                logger.info(
                    "moving the records of %s to layout %d (some seconds a million records)",
                    self.path,
                    SCHEMA_VERSION,
                )
                for statement in _MIGRATE_FROM_0:
                    db.execute(statement)
                moved = True
            for statement in _SYNCED_VIEW:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if moved:
            self._compact()

    def _compact(self) -> None:
        """Give back the room of the first layout's table, which would otherwise stay in the file as
        free pages. Skipped with a warning when another connection holds the file: later writes
        reuse the free pages."""
        try:
            with self._lock:
                self._db.execute("VACUUM")
                # VACUUM wrote the whole file into the WAL: give that room back too.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as err:
            logger.warning(
                "could not compact %s after moving it to layout %d: %s", self.path, SCHEMA_VERSION, err
            )

    def _layout(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _scope_id(self, connector: str, kind: str) -> int | None:
        """The number of a scope (``connector`` and ``kind``), None when nothing was ever written to it."""
        key = (connector, kind)
        found = self._scope_ids.get(key)
        if found is None:
            with self._lock:
                row = self._db.execute(
                    "SELECT id FROM scopes WHERE connector = ? AND kind = ?", key
                ).fetchone()
            if row is None:
                return None
            found = self._scope_ids[key] = int(row[0])
        return found

    def _new_scope_id(self, connector: str, kind: str) -> int:
        """The number of a scope, numbered now if it has none (in a transaction of its own, so a
        write that fails later never leaves a number known here but not in the file)."""
        found = self._scope_id(connector, kind)
        if found is None:
            with locked_transaction(self._db, self._lock, "BEGIN IMMEDIATE") as db:
                db.execute("INSERT OR IGNORE INTO scopes (connector, kind) VALUES (?, ?)", (connector, kind))
            found = self._scope_id(connector, kind)
            assert found is not None  # just written, and never removed
        return found

    def worker_factory(self) -> Callable[[], SqliteStateStore] | None:
        """What opens this state file again in another process (for :mod:`ccf_core.upload_worker`);
        None for a subclass (which may behave otherwise: it gives its own factory, or runs in the
        engine's process)."""
        return partial(SqliteStateStore, self.path) if type(self) is SqliteStateStore else None

    def describe(self) -> str:
        """Where the state lives, for the runner's first output line."""
        return f"sqlite state {self.path}"

    def load_checksums(self, connector: str, kind: str = "document") -> dict[str, str]:
        """Every recorded ``id -> checksum`` of a connector."""
        scope = self._scope_id(connector, kind)
        if scope is None:
            return {}
        with self._lock:
            return dict(self._db.execute("SELECT item_id, checksum FROM items WHERE scope = ?", (scope,)))

    def iter_checksums(
        self, connector: str, kind: str = "document", page_size: int = 5_000
    ) -> Iterator[tuple[str, str]]:
        """Every recorded ``(id, checksum)`` of a connector in id order, read ``page_size`` at a time.

        Each page is its own short read, so a long iteration never holds the database.
        """
        scope = self._scope_id(connector, kind)
        if scope is None:
            return
        after = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT item_id, checksum FROM items WHERE scope = ? AND item_id > ? "
                    "ORDER BY item_id LIMIT ?",
                    (scope, after, page_size),
                ).fetchall()
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        """Record ``(id, checksum)`` pairs as synced, in one transaction."""
        scope = self._scope_ids.get((connector, kind))
        if scope is None:
            items = list(items)
            if not items:
                return
            scope = self._new_scope_id(connector, kind)
        now = _now()
        self._write_many(
            "INSERT OR REPLACE INTO items (scope, item_id, checksum, synced_at) VALUES (?, ?, ?, ?)",
            [(scope, item_id, checksum, now) for item_id, checksum in items],
        )

    def forget(self, connector: str, ids: Iterable[str], kind: str = "document") -> None:
        """Remove ids in one transaction."""
        scope = self._scope_id(connector, kind)
        if scope is None:
            return
        self._write_many(
            "DELETE FROM items WHERE scope = ? AND item_id = ?", [(scope, item_id) for item_id in ids]
        )

    def _write_many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``statement`` for every row, all or nothing."""
        if not rows:
            return
        with locked_transaction(self._db, self._lock, "BEGIN") as db:
            db.executemany(statement, rows)

    def get_checkpoint(self, connector: str) -> dict[str, Any] | None:
        """The checkpoint of the last completed run, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM checkpoints WHERE connector = ?", (connector,)
            ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def save_checkpoint(self, connector: str, checkpoint: dict[str, Any]) -> None:
        """Save a completed run's checkpoint (must be JSON-serialisable)."""
        data = json.dumps(checkpoint, sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO checkpoints (connector, data, updated_at) VALUES (?, ?, ?)",
                (connector, data, _now()),
            )

    def reset(self, connector: str) -> None:
        """Forget a connector's checksums and checkpoint."""
        with locked_transaction(self._db, self._lock, "BEGIN") as db:
            db.execute(
                "DELETE FROM items WHERE scope IN (SELECT id FROM scopes WHERE connector = ?)", (connector,)
            )
            db.execute("DELETE FROM checkpoints WHERE connector = ?", (connector,))

    def summary(self, connector: str) -> dict[str, Any]:
        """Counts and last sync time of a connector, for ``ccf state show``."""
        with self._lock:
            by_kind = self._db.execute(
                "SELECT scopes.kind, COUNT(*), MAX(items.synced_at) FROM items "
                "JOIN scopes ON scopes.id = items.scope WHERE scopes.connector = ? GROUP BY scopes.kind",
                (connector,),
            ).fetchall()
            checkpoint_row = self._db.execute(
                "SELECT data, updated_at FROM checkpoints WHERE connector = ?", (connector,)
            ).fetchone()
        counts = {kind: count for kind, count, _ in by_kind}
        return {
            "connector": connector,
            "documents": counts.get("document", 0),
            "groups": counts.get("group", 0),
            "last_synced_at": max((last for _, _, last in by_kind), default=None),
            "checkpoint": json.loads(checkpoint_row[0]) if checkpoint_row else None,
            "checkpoint_updated_at": checkpoint_row[1] if checkpoint_row else None,
        }

    def connectors(self) -> list[str]:
        """Every connector that has state here."""
        with self._lock:
            rows = self._db.execute(
                "SELECT connector FROM scopes WHERE EXISTS "
                "(SELECT 1 FROM items WHERE items.scope = scopes.id) "
                "UNION SELECT connector FROM checkpoints ORDER BY 1"
            ).fetchall()
        return [row[0] for row in rows]

    @contextmanager
    def lock(self, connector: str) -> Iterator[None]:
        """Hold the run lock of ``connector`` (a state scope) for the length of a run.

        The lock is an ``flock`` on a file beside the database, so it goes with the process that
        held it, however it ends. The file says who holds it.

        Raises:
            RunLocked: when another run holds it, naming that run's process id and start time.
        """
        folder = self.path.parent / f"{self.path.name}.locks"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (hashlib.sha256(connector.encode("utf-8")).hexdigest()[:24] + ".lock")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 4096, 0).decode("utf-8", "replace")
                raise RunLocked(connector, _describe_holder(holder)) from None
            me = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": _now(), "scope": connector}
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, json.dumps(me).encode("utf-8"), 0)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
