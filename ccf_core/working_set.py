"""The run's working set: what the state recorded for each document, and which ids the run produced.

A run compares every document it produces with its stored record, marks the id seen (a second
document with the same id is a duplicate), and at the end, in full mode, deletes every recorded id
it did not see. Held in a dict, that costs about 0.3 KB per document: 3 GB for 10 million. So the
working set starts as a dict and, past ``spill_at`` records, moves to a run-local SQLite file (in
the system's temporary folder, ``TMPDIR``), unlinked as soon as it is open so that nothing is left
behind however the run ends; either way the same small interface answers, and deletions stream
the unseen ids in pages. On disk, a lookup that misses reads the rows that follow it in id order
too, as many as the lookups since used: a connector that lists in id order costs a query per page of
ids, one that lists in another order a query per id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from ccf_core.ports import StateStore, StreamingStateStore

#: The value of an id this run has produced (a stored record is never empty).
SEEN = ""

#: Past this many ids the working set moves from a dict to a temporary SQLite file.
SPILL_AT = 100_000

#: How many rows one read or write of the SQLite file handles.
PAGE_SIZE = 5_000

#: Rows written to the SQLite file between two commits.
_COMMIT_EVERY = 20_000

#: Seen marks held in memory before they are written to the SQLite file in one statement.
_MARKS_BATCH = 2_000

#: Bounds of the read-ahead on disk: rows read in id order from an id looked up and missed. The size
#: doubles while lookups use the rows read ahead and halves while they do not, so a connector that
#: lists in id order costs one query per page, and one in another order a query per id, as without.
_AHEAD_MIN, _AHEAD_START, _AHEAD_MAX = 1, 16, 2_048

# Ids are kept as UTF-8 bytes with lone surrogates passed through: a file name that is not UTF-8
# must reach validation (and fail there, alone), not break the run. Bytes sort as code points do.
_SCHEMA = "CREATE TABLE ids (id BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"

# Insert a produced id as seen, or mark a recorded one seen.
_MARK = "INSERT INTO ids (id, value) VALUES (?, '') ON CONFLICT (id) DO UPDATE SET value = ''"


T = TypeVar("T")


class WorkingSet:
    """Stored records by id, and which of them this run has seen.

    Args:
        spill_at: how many ids are kept in memory before the set moves to a SQLite file
            (:data:`SPILL_AT` when not given; 0 puts it on disk from the start).
        directory: where the SQLite file goes (a new folder in the temporary folder by default).
    """

    def __init__(self, spill_at: int | None = None, directory: str | os.PathLike[str] | None = None) -> None:
        self.spill_at = SPILL_AT if spill_at is None else spill_at
        self._directory = directory
        self._memory: dict[str, str] | None = {}
        self._db: sqlite3.Connection | None = None
        self._folder: Path | None = None
        self._writes = 0
        # Ids seen since the last write of marks: one executemany is far cheaper than a write per id.
        self._marks: dict[str, None] = {}
        # Rows read ahead from the file, and the key span they cover (None: no rows held; an end
        # of None: to the end of the file). Dropped whenever the file is written.
        self._ahead: dict[bytes, str] = {}
        self._ahead_span: tuple[bytes, bytes | None] | None = None
        self._ahead_size = _AHEAD_START
        self._ahead_hits = 0
        #: How many records were loaded (the size of the index as the state knows it).
        self.recorded = 0

    @property
    def on_disk(self) -> bool:
        """Whether the set lives in its SQLite file."""
        return self._db is not None

    # filling ---------------------------------------------------------------------------------

    def load(self, records: Iterable[tuple[str, str]]) -> WorkingSet:
        """Add stored ``(id, value)`` records (streamed: only a page is held at a time)."""
        iterator = iter(records)
        while True:
            page = list(islice(iterator, PAGE_SIZE))
            if not page:
                return self
            self.recorded += len(page)
            memory = self._memory
            if memory is not None and len(memory) + len(page) <= self.spill_at:
                memory.update(page)
                continue
            db = self._spill()
            db.executemany(
                "INSERT OR REPLACE INTO ids (id, value) VALUES (?, ?)",
                [(_key(item_id), value) for item_id, value in page],
            )
            self._count_writes(len(page))
            self._ahead_span = None

    def _spill(self) -> sqlite3.Connection:
        """The SQLite file, created (and the dict moved into it) on first use."""
        if self._db is not None:
            return self._db
        parent = None if self._directory is None else os.fspath(self._directory)
        self._folder = Path(tempfile.mkdtemp(prefix="ccf-working-set-", dir=parent))
        path = self._folder / "ids.db"
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # A scratch file: a crash loses nothing the state does not hold, so no journal and no sync.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-16384")  # 16 MB of page cache, whatever the set's size
        db.execute("PRAGMA temp_store=FILE")
        db.execute(_SCHEMA)
        # Unlinked at once (SQLite keeps it open; without a journal it never reopens it): the
        # space goes back when the connection closes, even when the run is killed.
        with contextlib.suppress(OSError):
            path.unlink()
            self._folder.rmdir()
            self._folder = None
        db.execute("BEGIN")
        memory, self._memory = self._memory or {}, None
        items = iter(memory.items())
        while page := list(islice(items, PAGE_SIZE)):
            db.executemany(
                "INSERT INTO ids (id, value) VALUES (?, ?)",
                [(_key(item_id), value) for item_id, value in page],
            )
        memory.clear()
        self._db = db
        return db

    def _count_writes(self, count: int) -> None:
        self._writes += count
        if self._writes >= _COMMIT_EVERY and self._db is not None:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._writes = 0

    # per document ----------------------------------------------------------------------------

    def get(self, item_id: str) -> str | None:
        """The stored record of ``item_id`` (:data:`SEEN` once the run produced it), or None."""
        if self._memory is not None:
            return self._memory.get(item_id)
        if item_id in self._marks:
            return SEEN
        key = _key(item_id)
        span = self._ahead_span
        if span is not None and span[0] <= key and (span[1] is None or key <= span[1]):
            self._ahead_hits += 1
            return self._ahead.get(key)
        return self._read_ahead(key)

    def _read_ahead(self, key: bytes) -> str | None:
        """The stored value of ``key``, read from the file with the rows that follow it."""
        assert self._db is not None
        size = self._ahead_size
        # The rows read last time were used (or not) by the lookups since: read more (or fewer).
        used = self._ahead_hits * 2 >= size
        size = min(size * 2, _AHEAD_MAX) if used else max(size // 2, _AHEAD_MIN)
        self._ahead_size, self._ahead_hits = size, 0
        rows = self._db.execute(
            "SELECT id, value FROM ids WHERE id >= ? ORDER BY id LIMIT ?", (key, size)
        ).fetchall()
        self._ahead = {bytes(row_id): str(value) for row_id, value in rows}
        self._ahead_span = (key, bytes(rows[-1][0]) if len(rows) == size else None)
        return self._ahead.get(key)

    def see(self, item_id: str) -> str | None:
        """Mark ``item_id`` seen; its value before (:data:`SEEN` for a duplicate, None when new)."""
        memory = self._memory
        if memory is not None:
            previous = memory.get(item_id)
            memory[item_id] = SEEN
            if previous is None and len(memory) > self.spill_at:
                self._spill()
            return previous
        previous = self.get(item_id)
        if previous != SEEN:
            self._marks[item_id] = None
            if len(self._marks) >= _MARKS_BATCH:
                self._write_marks()
        return previous

    def restore(self, item_id: str, previous: str | None) -> None:
        """Undo :meth:`see` of ``item_id``, whose value before it was ``previous`` (not :data:`SEEN`)."""
        memory = self._memory
        if memory is not None:
            if previous is None:
                memory.pop(item_id, None)
            else:
                memory[item_id] = previous
            return
        if item_id in self._marks:
            del self._marks[item_id]  # not written yet: the file still holds the value before
            return
        assert self._db is not None
        self._ahead_span = None
        if previous is None:
            self._db.execute("DELETE FROM ids WHERE id = ?", (_key(item_id),))
        else:
            self._db.execute("UPDATE ids SET value = ? WHERE id = ?", (previous, _key(item_id)))
        self._count_writes(1)

    def _write_marks(self) -> None:
        if self._marks and self._db is not None:
            self._db.executemany(_MARK, ((_key(item_id),) for item_id in self._marks))
            self._count_writes(len(self._marks))
            self._marks = {}
            self._ahead_span = None

    # at the end ------------------------------------------------------------------------------

    def unseen(self, page_size: int = PAGE_SIZE) -> Iterator[tuple[str, str]]:
        """Every stored ``(id, value)`` the run did not produce, in id order, read a page at a time."""
        if self._memory is not None:
            # Sorted like the SQLite pages, so both layouts delete in the same order. A stored record
            # is never empty and SEEN is: the filter runs in C, which counts when every id was seen.
            yield from sorted(filter(itemgetter(1), self._memory.items()))
            return
        assert self._db is not None
        self._write_marks()
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        after = b""
        while True:
            rows = self._db.execute(
                "SELECT id, value FROM ids WHERE id > ? AND value != '' ORDER BY id LIMIT ?",
                (after, page_size),
            ).fetchall()
            if not rows:
                return
            for item_id, value in rows:
                yield bytes(item_id).decode("utf-8", "surrogatepass"), str(value)
            after = rows[-1][0]

    def close(self) -> None:
        """Drop the set (and its file)."""
        self._memory = {}
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> WorkingSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _key(item_id: str) -> bytes:
    return item_id.encode("utf-8", "surrogatepass")


def filled_working_set(records: Iterable[tuple[str, str]]) -> WorkingSet:
    """A new working set holding ``records``; its file is removed if reading them fails."""
    known = WorkingSet()
    try:
        return known.load(records)
    except BaseException:
        known.close()
        raise


def in_pages(items: Iterable[T], size: int = 5_000) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page


def stream_checksums(state: StateStore, scope: str, kind: str = "document") -> Iterable[tuple[str, str]]:
    """The stored ``(id, checksum)`` pairs of ``scope``, a page at a time when the store can stream."""
    if isinstance(state, StreamingStateStore):
        return state.iter_checksums(scope, kind)
    return state.load_checksums(scope, kind).items()
