"""The embedded state store: checksums and checkpoints in a local SQLite file.

WAL journaling and one transaction per recorded batch mean a process killed in the middle of a
run keeps every batch it had recorded, and nothing half-written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccf_core.errors import RunLocked
from ccf_core.sqlite_transaction import locked_transaction

#: How long a connection waits for another process's write to end before giving up.
BUSY_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS synced (
    connector TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    checksum TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (connector, kind, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    connector TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


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

    def __init__(self, path: str | os.PathLike[str] = ".ccf/state.db") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def describe(self) -> str:
        """Where the state lives, for the runner's first output line."""
        return f"sqlite state {self.path}"

    def load_checksums(self, connector: str, kind: str = "document") -> dict[str, str]:
        """Every recorded ``id -> checksum`` of a connector."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, checksum FROM synced WHERE connector = ? AND kind = ?", (connector, kind)
            )
            return dict(rows)

    def iter_checksums(
        self, connector: str, kind: str = "document", page_size: int = 5_000
    ) -> Iterator[tuple[str, str]]:
        """Every recorded ``(id, checksum)`` of a connector in id order, read ``page_size`` at a time.

        Each page is its own short read, so a long iteration never holds the database.
        """
        after = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT item_id, checksum FROM synced WHERE connector = ? AND kind = ? AND item_id > ? "
                    "ORDER BY item_id LIMIT ?",
                    (connector, kind, after, page_size),
                ).fetchall()
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        """Record ``(id, checksum)`` pairs as synced, in one transaction."""
        now = _now()
        self._write_many(
            "INSERT OR REPLACE INTO synced (connector, kind, item_id, checksum, synced_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(connector, kind, item_id, checksum, now) for item_id, checksum in items],
        )

    def forget(self, connector: str, ids: Iterable[str], kind: str = "document") -> None:
        """Remove ids in one transaction."""
        self._write_many(
            "DELETE FROM synced WHERE connector = ? AND kind = ? AND item_id = ?",
            [(connector, kind, item_id) for item_id in ids],
        )

    def _write_many(self, statement: str, rows: list[tuple[str, ...]]) -> None:
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
            db.execute("DELETE FROM synced WHERE connector = ?", (connector,))
            db.execute("DELETE FROM checkpoints WHERE connector = ?", (connector,))

    def summary(self, connector: str) -> dict[str, Any]:
        """Counts and last sync time of a connector, for ``ccf state show``."""
        with self._lock:
            counts = dict(
                self._db.execute(
                    "SELECT kind, COUNT(*) FROM synced WHERE connector = ? GROUP BY kind", (connector,)
                ).fetchall()
            )
            last = self._db.execute(
                "SELECT MAX(synced_at) FROM synced WHERE connector = ?", (connector,)
            ).fetchone()[0]
            checkpoint_row = self._db.execute(
                "SELECT data, updated_at FROM checkpoints WHERE connector = ?", (connector,)
            ).fetchone()
        return {
            "connector": connector,
            "documents": counts.get("document", 0),
            "groups": counts.get("group", 0),
            "last_synced_at": last,
            "checkpoint": json.loads(checkpoint_row[0]) if checkpoint_row else None,
            "checkpoint_updated_at": checkpoint_row[1] if checkpoint_row else None,
        }

    def connectors(self) -> list[str]:
        """Every connector that has state here."""
        with self._lock:
            rows = self._db.execute(
                "SELECT connector FROM synced UNION SELECT connector FROM checkpoints ORDER BY 1"
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
