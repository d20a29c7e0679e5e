"""One SQLite write transaction under a lock: the pattern every SQLite store of ccf shares."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def locked_transaction(
    db: sqlite3.Connection, lock: threading.Lock | threading.RLock, begin: str = "BEGIN IMMEDIATE"
) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` and run the block in one transaction of ``db``: committed, or rolled back.

    ``db`` must be in autocommit mode (``isolation_level=None``), so the transaction is the one
    begun here. ``BEGIN IMMEDIATE`` (the default) takes the write lock at once, so the block's
    reads and writes are atomic against other processes.
    """
    with lock:
        db.execute(begin)
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself failed (busy past the timeout, disk full): a transaction
            # left open would make every later BEGIN fail.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
