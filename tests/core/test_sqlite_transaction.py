"""The shared SQLite write transaction: all or nothing, and never left open."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ccf_core.sqlite_transaction import locked_transaction


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (x INTEGER)")
    return db


def test_a_failing_block_writes_nothing(tmp_path: Path) -> None:
    db, lock = _db(tmp_path / "a.db"), threading.Lock()
    with pytest.raises(RuntimeError), locked_transaction(db, lock) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("stop")

    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert not db.in_transaction


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    db, lock = _db(tmp_path / "a.db"), threading.Lock()
    # A deferred foreign key broken at COMMIT makes the COMMIT itself fail.
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE child (p INTEGER REFERENCES t(x) DEFERRABLE INITIALLY DEFERRED)")
    db.execute("CREATE UNIQUE INDEX tx ON t (x)")
    with pytest.raises(sqlite3.IntegrityError), locked_transaction(db, lock) as tx:
        tx.execute("INSERT INTO child VALUES (7)")

    assert not db.in_transaction
    with locked_transaction(db, lock) as tx:  # the next transaction begins as usual
        tx.execute("INSERT INTO t VALUES (2)")
    assert db.execute("SELECT x FROM t").fetchall() == [(2,)]
    assert db.execute("SELECT count(*) FROM child").fetchone()[0] == 0
