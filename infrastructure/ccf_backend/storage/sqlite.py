"""The storage interface on one SQLite file: what ``ccf backend serve --data DIR`` keeps its data in.

Same contract as the DynamoDB implementation (:mod:`ccf_backend.storage.interface`): every
transition (start, stop, running, finish, connector update and delete) reads its condition and
writes in one ``BEGIN IMMEDIATE`` transaction, so of many concurrent starts exactly one wins, and
a late finish of an old job never frees a connector another job holds. Rows keep the item as
JSON next to the columns the queries need; the checkpoint is a plain column (no 400 KB item limit
here). WAL journal: a killed server loses nothing committed, and readers never see half a write.

One connection serves the whole process behind a lock: each call is a few hundred microseconds,
and the local server is the only writer. List calls parse each row's JSON once: the parsed item is
kept by its text (:class:`_ParsedRows`), so a page of unchanged rows costs a lookup per row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ccf_backend.errors import Conflict, NotFound
from ccf_backend.storage.base import now_iso
from ccf_backend.storage.connectors import VersionChanged
from ccf_backend.storage.connectors import not_found as connector_not_found
from ccf_backend.storage.documents import document_key
from ccf_backend.storage.interface import Page
from ccf_backend.storage.jobs import job_not_found
from ccf_core.api.models import STOPPABLE_JOB_STATUSES, TERMINAL_JOB_STATUSES, ConnectorStatus, JobStatus
from ccf_core.sqlite_transaction import locked_transaction

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS connectors (
    connector_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS connectors_by_tenant ON connectors (tenant, connector_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    connector_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    connector_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    ttl INTEGER,
    item TEXT NOT NULL,
    PRIMARY KEY (connector_id, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (connector_id, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
CREATE TABLE IF NOT EXISTS documents (
    connector_id TEXT NOT NULL,
    document_key TEXT NOT NULL,
    document_id TEXT NOT NULL,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connector_id, document_key)
) WITHOUT ROWID;
"""
_ACTIVE = tuple(status.value for status in (JobStatus.STARTED, JobStatus.RUNNING, JobStatus.STOPPING))


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(
        {name: value for name, value in item.items() if value is not None}, separators=(",", ":")
    )


class _ParsedRows:
    """Items parsed from their stored JSON text, kept by that text (a changed row is a new text).

    Listing the same rows again (what a polling client does) then skips the JSON decoding that
    was most of a list call's time. Each call gets its own top-level dict; nested values are
    shared with the cache, so callers must not change them in place (the service only reads
    them to build views). Once the texts kept reach ``max_chars`` characters (a connector's
    configuration alone may be 64 KiB), the cache starts over: its memory stays bounded.
    """

    def __init__(self, max_chars: int = 8_000_000) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._chars = 0
        self._max_chars = max_chars

    def item(self, text: str) -> dict[str, Any]:
        """The item stored as ``text``, as a dict of its own."""
        found = self._items.get(text)
        if found is None:
            if self._chars + len(text) > self._max_chars:
                self._items.clear()
                self._chars = 0
            found = self._items[text] = json.loads(text)
            self._chars += len(text)
        return dict(found)


def _busy(connector_id: str, current_job_id: str | None) -> Conflict:
    return Conflict(
        f"connector {connector_id} is IN_USE: job {current_job_id or 'another job'} is running; "
        "stop it or wait for it to end",
        field="connector_id",
    )


class SqliteStorage:
    """Connectors, checkpoints, jobs and documents in the SQLite database at ``path``.

    Args:
        path: the database file (created with its folder if missing).
        job_retention_days: finished jobs older than this are removed when the store opens, as
            DynamoDB's TTL removes them.
    """

    def __init__(self, path: str | Path, job_retention_days: int = 30) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.job_retention_days = job_retention_days
        self._lock = threading.RLock()
        self._parsed = _ParsedRows()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer ccf (schema {version}); "
                "upgrade ccf or use another --data folder"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        with self._write() as db:
            db.execute("DELETE FROM jobs WHERE ttl IS NOT NULL AND ttl < ?", (int(time.time()),))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction (taken at once, so its reads and writes are atomic)."""
        return locked_transaction(self._db, self._lock)

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # -- connectors ----------------------------------------------------------------------------

    def _connector(self, db: sqlite3.Connection, tenant: str, connector_id: str) -> dict[str, Any]:
        row = db.execute(
            "SELECT item FROM connectors WHERE connector_id = ? AND tenant = ?", (connector_id, tenant)
        ).fetchone()
        if row is None:
            raise connector_not_found(connector_id)
        found: dict[str, Any] = json.loads(row[0])
        return found

    def _save_connector(self, db: sqlite3.Connection, item: dict[str, Any]) -> None:
        db.execute(
            "UPDATE connectors SET item = ? WHERE connector_id = ?", (_dump(item), item["connector_id"])
        )

    def create_connector(self, connector: dict[str, Any]) -> None:
        """Insert a new connector; a 409 if the id exists."""
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO connectors (connector_id, tenant, item) VALUES (?, ?, ?)",
                    (connector["connector_id"], connector["tenant"], _dump(connector)),
                )
        except sqlite3.IntegrityError as err:
            raise Conflict(f"connector {connector['connector_id']} already exists") from err

    def get_connector(self, tenant: str, connector_id: str) -> dict[str, Any]:
        """The connector, or a 404."""
        with self._lock:
            return self._connector(self._db, tenant, connector_id)

    def find_connector(self, connector_id: str) -> dict[str, Any] | None:
        """The connector whatever its tenant, or None (for the job functions, which act for no caller)."""
        rows = self._read("SELECT item FROM connectors WHERE connector_id = ?", (connector_id,))
        return dict(json.loads(rows[0][0])) if rows else None

    def list_connectors(self, tenant: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        """A page of the tenant's connectors (ordered by id) and the key to continue after."""
        after = str((start_key or {}).get("connector_id", ""))
        rows = self._read(
            "SELECT item FROM connectors WHERE tenant = ? AND connector_id > ? ORDER BY connector_id LIMIT ?",
            (tenant, after, limit + 1),
        )
        items = [self._parsed.item(row[0]) for row in rows[:limit]]
        last = {"connector_id": items[-1]["connector_id"]} if len(rows) > limit else None
        return items, last

    def update_connector(
        self,
        tenant: str,
        connector_id: str,
        changes: dict[str, Any],
        expected_version: int,
        *,
        require_available: bool,
    ) -> dict[str, Any]:
        """Write the changed fields if the connector still has ``expected_version``; the new item."""
        with self._write() as db:
            item = self._connector(db, tenant, connector_id)
            if require_available and item.get("status") != ConnectorStatus.AVAILABLE.value:
                raise Conflict(
                    f"connector {connector_id} is IN_USE (running {item.get('current_job_id', 'a job')}); "
                    "stop the job or wait for it to end before changing how the connector runs",
                    field="connector_id",
                )
            if int(item.get("version", 0)) != expected_version:
                raise VersionChanged(connector_id)
            item.update({name: value for name, value in changes.items() if value is not None})
            item["version"] = expected_version + 1
            item["updated_at"] = now_iso()
            self._save_connector(db, item)
            return item

    def delete_connector(self, tenant: str, connector_id: str) -> None:
        """Delete an AVAILABLE connector and its checkpoint; 404 or 409 otherwise."""
        with self._write() as db:
            item = self._connector(db, tenant, connector_id)
            if item.get("status") == ConnectorStatus.IN_USE.value:
                raise Conflict(
                    f"connector {connector_id} is IN_USE (running {item.get('current_job_id', 'a job')}); "
                    "stop the job or wait for it to end before deleting the connector",
                    field="connector_id",
                )
            db.execute("DELETE FROM connectors WHERE connector_id = ?", (connector_id,))
            db.execute("DELETE FROM checkpoints WHERE connector_id = ?", (connector_id,))

    def put_checkpoint(self, tenant: str, connector_id: str, data: str) -> None:
        """Replace the connector's checkpoint."""
        now = now_iso()
        with self._write() as db:
            self._connector(db, tenant, connector_id)
            db.execute(
                "INSERT INTO checkpoints (connector_id, data, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (connector_id) DO UPDATE SET data = excluded.data, "
                "updated_at = excluded.updated_at",
                (connector_id, data, now, now),
            )

    def get_checkpoint(self, tenant: str, connector_id: str) -> dict[str, Any]:
        """``{checkpoint_data, created_at, updated_at}``, or a 404 (no connector, or no checkpoint)."""
        with self._lock:
            self._connector(self._db, tenant, connector_id)
            row = self._db.execute(
                "SELECT data, created_at, updated_at FROM checkpoints WHERE connector_id = ?", (connector_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"connector {connector_id} has no checkpoint")
        return {"checkpoint_data": row[0], "created_at": row[1], "updated_at": row[2]}

    def delete_checkpoint(self, tenant: str, connector_id: str) -> None:
        """Remove the checkpoint; a 404 when the connector or its checkpoint does not exist."""
        with self._write() as db:
            self._connector(db, tenant, connector_id)
            if db.execute("DELETE FROM checkpoints WHERE connector_id = ?", (connector_id,)).rowcount == 0:
                raise NotFound(f"connector {connector_id} has no checkpoint")

    # -- jobs ----------------------------------------------------------------------------------

    def _job(self, db: sqlite3.Connection, connector_id: str, job_id: str) -> dict[str, Any] | None:
        row = db.execute(
            "SELECT item FROM jobs WHERE connector_id = ? AND job_id = ?", (connector_id, job_id)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _save_job(self, db: sqlite3.Connection, job: dict[str, Any]) -> None:
        db.execute(
            "UPDATE jobs SET status = ?, ttl = ?, item = ? WHERE connector_id = ? AND job_id = ?",
            (job["status"], job.get("ttl"), _dump(job), job["connector_id"], job["job_id"]),
        )

    def start_job(self, tenant: str, job: dict[str, Any]) -> str:
        """Insert ``job`` (STARTED) and mark its connector IN_USE, atomically; the id the start stands for.

        With a ``client_token`` in ``job`` that is the token of the connector's latest start, nothing
        is started and the earlier job's id is returned (a retried start). 404 or 409 otherwise.
        """
        token = job.get("client_token")
        with self._write() as db:
            connector = self._connector(db, tenant, job["connector_id"])
            if token and connector.get("last_client_token") == token:
                return str(connector["last_client_token_job_id"])
            if connector.get("status") != ConnectorStatus.AVAILABLE.value:
                raise _busy(job["connector_id"], connector.get("current_job_id"))
            db.execute(
                "INSERT INTO jobs (connector_id, job_id, created_at, status, item) VALUES (?, ?, ?, ?, ?)",
                (job["connector_id"], job["job_id"], job["created_at"], job["status"], _dump(job)),
            )
            connector.update(status=ConnectorStatus.IN_USE.value, current_job_id=job["job_id"])
            if token:
                connector.update(last_client_token=token, last_client_token_job_id=job["job_id"])
            self._save_connector(db, connector)
            return str(job["job_id"])

    def get_job(self, connector_id: str, job_id: str) -> dict[str, Any]:
        """The job, or a 404."""
        with self._lock:
            job = self._job(self._db, connector_id, job_id)
        if job is None:
            raise job_not_found(connector_id, job_id)
        return job

    def list_jobs(
        self, connector_id: str, status: JobStatus | None, limit: int, start_key: dict[str, Any] | None
    ) -> Page:
        """A page of a connector's jobs, newest first, optionally of one status only."""
        sql = "SELECT item FROM jobs WHERE connector_id = ?"
        parameters: list[Any] = [connector_id]
        if status is not None:
            sql += " AND status = ?"
            parameters.append(status.value)
        if start_key:
            sql += " AND (created_at < ? OR (created_at = ? AND job_id < ?))"
            created = str(start_key.get("created_at", ""))
            parameters += [created, created, str(start_key.get("job_id", ""))]
        sql += " ORDER BY created_at DESC, job_id DESC LIMIT ?"
        rows = self._read(sql, [*parameters, limit + 1])
        items = [self._parsed.item(row[0]) for row in rows[:limit]]
        last = None
        if len(rows) > limit:
            last = {name: items[-1][name] for name in ("connector_id", "job_id", "created_at")}
        return items, last

    def request_stop(self, connector_id: str, job_id: str) -> dict[str, Any]:
        """Record a stop request (-> STOPPING); idempotent while STOPPING; 404 or 409 otherwise."""
        with self._write() as db:
            job = self._job(db, connector_id, job_id)
            if job is None:
                raise job_not_found(connector_id, job_id)
            if JobStatus(job["status"]) not in STOPPABLE_JOB_STATUSES:
                raise Conflict(
                    f"job {job_id} is already {job['status']}: only a STARTED or RUNNING job can be stopped",
                    field="job_id",
                )
            now = now_iso()
            job.update(status=JobStatus.STOPPING.value, updated_at=now)
            job.setdefault("stop_requested_at", now)
            self._save_job(db, job)
            return job

    def put_metrics(self, connector_id: str, job_id: str, metrics: dict[str, Any]) -> dict[str, Any]:
        """Store the metrics the runner reported for a job (replacing earlier ones); 404 if no job."""
        with self._write() as db:
            job = self._job(db, connector_id, job_id)
            if job is None:
                raise job_not_found(connector_id, job_id)
            job.update(metrics=metrics, updated_at=now_iso())
            self._save_job(db, job)
            return job

    def mark_running(self, connector_id: str, job_id: str, batch_job_id: str) -> bool:
        """STARTED -> RUNNING with the executor's job id; False if the job is no longer STARTED."""
        with self._write() as db:
            job = self._job(db, connector_id, job_id)
            if job is None or job["status"] != JobStatus.STARTED.value:
                return False
            job.update(status=JobStatus.RUNNING.value, batch_job_id=batch_job_id, updated_at=now_iso())
            self._save_job(db, job)
            return True

    def finish_job(
        self, connector_id: str, job_id: str, status: JobStatus, failure_reason: str | None = None
    ) -> bool:
        """End a job and free its connector if this job holds it; False if already ended."""
        if status not in TERMINAL_JOB_STATUSES:
            raise ValueError(f"{status} is not a terminal status")
        with self._write() as db:
            job = self._job(db, connector_id, job_id)
            if job is None or JobStatus(job["status"]) in TERMINAL_JOB_STATUSES:
                return False
            now = now_iso()
            job.update(
                status=status.value,
                completed_at=now,
                updated_at=now,
                ttl=int(time.time()) + self.job_retention_days * 86_400,
            )
            if failure_reason:
                job["failure_reason"] = failure_reason[:1024]
            self._save_job(db, job)
            row = db.execute("SELECT item FROM connectors WHERE connector_id = ?", (connector_id,)).fetchone()
            if row is not None:
                connector = json.loads(row[0])
                if connector.get("current_job_id") == job_id:
                    connector.pop("current_job_id")
                    connector["status"] = ConnectorStatus.AVAILABLE.value
                    self._save_connector(db, connector)
            return True

    def purge_jobs(self, connector_id: str, deadline: float) -> bool:
        """Delete a deleted connector's jobs; True (one statement finishes them all)."""
        with self._write() as db:
            db.execute("DELETE FROM jobs WHERE connector_id = ?", (connector_id,))
        return True

    def list_active_jobs(self) -> list[dict[str, Any]]:
        """Every job that is STARTED, RUNNING or STOPPING."""
        rows = self._read("SELECT item FROM jobs WHERE status IN (?, ?, ?)", _ACTIVE)
        return [json.loads(row[0]) for row in rows]

    # -- documents -----------------------------------------------------------------------------

    def put_documents(self, connector_id: str, documents: Sequence[tuple[str, str]]) -> None:
        """Record ``(document_id, checksum)`` pairs; ``created_at`` is kept for known documents."""
        now = now_iso()
        with self._write() as db:
            db.executemany(
                "INSERT INTO documents (connector_id, document_key, document_id, checksum, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (connector_id, document_key) DO UPDATE "
                "SET document_id = excluded.document_id, checksum = excluded.checksum, "
                "updated_at = excluded.updated_at",
                [
                    (connector_id, document_key(document_id), document_id, checksum, now, now)
                    for document_id, checksum in documents
                ],
            )

    def delete_documents(self, connector_id: str, document_ids: Sequence[str]) -> None:
        """Forget documents of this connector (ids it does not have are ignored)."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM documents WHERE connector_id = ? AND document_key = ?",
                [(connector_id, document_key(document_id)) for document_id in document_ids],
            )

    def list_documents(self, connector_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        """A page of a connector's documents and the key to continue after."""
        after = str((start_key or {}).get("document_key", ""))
        rows = self._read(
            "SELECT document_key, document_id, checksum, created_at, updated_at FROM documents "
            "WHERE connector_id = ? AND document_key > ? ORDER BY document_key LIMIT ?",
            (connector_id, after, limit + 1),
        )
        items = [
            {"document_id": row[1], "checksum": row[2], "created_at": row[3], "updated_at": row[4]}
            for row in rows[:limit]
        ]
        last = (
            {"connector_id": connector_id, "document_key": rows[limit - 1][0]} if len(rows) > limit else None
        )
        return items, last

    def purge_documents(self, connector_id: str, deadline: float) -> bool:
        """Delete a deleted connector's documents; True (one statement finishes them all)."""
        with self._write() as db:
            db.execute("DELETE FROM documents WHERE connector_id = ?", (connector_id,))
        return True
