"""State stores: the StateStore contract (SQLite and memory) and SQLite's durability guarantees."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccf_core import StateStore
from ccf_core.state import MemoryStateStore, SqliteStateStore
from ccf_core.state.sqlite import SCHEMA_VERSION


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    created: StateStore = (
        SqliteStateStore(tmp_path / "state.db") if request.param == "sqlite" else MemoryStateStore()
    )
    yield created
    created.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStateStore]:
    with SqliteStateStore(tmp_path / "deep" / "state.db") as created:
        yield created


# -- the contract ------------------------------------------------------------------------------


def test_store_implements_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


def test_record_then_load_round_trips(store: StateStore) -> None:
    store.record("c", [("a", "1"), ("b", "2")])

    assert store.load_checksums("c") == {"a": "1", "b": "2"}


def test_record_replaces_a_checksum(store: StateStore) -> None:
    store.record("c", [("a", "1")])
    store.record("c", [("a", "2")])

    assert store.load_checksums("c") == {"a": "2"}


def test_forget_removes_only_the_given_ids(store: StateStore) -> None:
    store.record("c", [("a", "1"), ("b", "2"), ("c", "3")])

    store.forget("c", ["a", "c", "unknown"])

    assert store.load_checksums("c") == {"b": "2"}


def test_kinds_are_separate(store: StateStore) -> None:
    store.record("c", [("eng", "doc")])
    store.record("c", [("eng", "grp")], kind="group")

    store.forget("c", ["eng"], kind="group")

    assert store.load_checksums("c") == {"eng": "doc"}
    assert store.load_checksums("c", kind="group") == {}


def test_connectors_are_separate(store: StateStore) -> None:
    store.record("one", [("a", "1")])
    store.record("two", [("a", "2")])

    assert store.load_checksums("one") == {"a": "1"}
    assert store.load_checksums("two") == {"a": "2"}


def test_unknown_connector_has_no_state(store: StateStore) -> None:
    assert store.load_checksums("nobody") == {}
    assert store.get_checkpoint("nobody") is None


def test_checkpoint_round_trips(store: StateStore) -> None:
    checkpoint: dict[str, object] = {"cursor": "2024-05-01T00:00:00Z", "pages": [1, 2], "nested": {"n": 3}}

    store.save_checkpoint("c", checkpoint)

    assert store.get_checkpoint("c") == checkpoint


def test_checkpoint_is_replaced(store: StateStore) -> None:
    store.save_checkpoint("c", {"cursor": 1})
    store.save_checkpoint("c", {"cursor": 2})

    assert store.get_checkpoint("c") == {"cursor": 2}


def test_returned_checkpoint_is_a_copy(store: StateStore) -> None:
    store.save_checkpoint("c", {"pages": [1]})

    loaded = store.get_checkpoint("c")
    assert loaded is not None
    loaded["pages"].append(2)  # type: ignore[attr-defined]

    assert store.get_checkpoint("c") == {"pages": [1]}


def test_reset_forgets_one_connector(store: StateStore) -> None:
    for connector in ("c", "other"):
        store.record(connector, [("a", "1")])
        store.record(connector, [("g", "1")], kind="group")
        store.save_checkpoint(connector, {"cursor": 1})

    store.reset("c")

    assert store.load_checksums("c") == {}
    assert store.load_checksums("c", kind="group") == {}
    assert store.get_checkpoint("c") is None
    assert store.load_checksums("other") == {"a": "1"}
    assert store.get_checkpoint("other") == {"cursor": 1}


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_creates_missing_parent_directories(sqlite_store: SqliteStateStore, tmp_path: Path) -> None:
    assert (tmp_path / "deep" / "state.db").is_file()


def test_sqlite_uses_wal_journaling(sqlite_store: SqliteStateStore) -> None:
    with sqlite3.connect(sqlite_store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "state.db") as first:
        first.record("c", [("a", "1")])
        first.save_checkpoint("c", {"cursor": 7})

    with SqliteStateStore(tmp_path / "state.db") as second:
        assert second.load_checksums("c") == {"a": "1"}
        assert second.get_checkpoint("c") == {"cursor": 7}


def test_sqlite_record_is_visible_to_another_connection_at_once(sqlite_store: SqliteStateStore) -> None:
    """Each record() commits: a process killed right after it keeps the batch."""
    sqlite_store.record("c", [("a", "1")])

    with sqlite3.connect(sqlite_store.path) as other:
        assert other.execute("SELECT item_id, checksum FROM synced").fetchall() == [("a", "1")]


def test_sqlite_record_that_fails_midway_keeps_nothing_of_the_batch(sqlite_store: SqliteStateStore) -> None:
    sqlite_store.record("c", [("before", "0")])

    with pytest.raises(sqlite3.IntegrityError):
        sqlite_store.record("c", [("a", "1"), ("b", None), ("c", "3")])  # type: ignore[list-item]

    assert sqlite_store.load_checksums("c") == {"before": "0"}


def test_sqlite_store_is_usable_after_a_failed_record(sqlite_store: SqliteStateStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        sqlite_store.record("c", [("a", "1"), ("b", None)])  # type: ignore[list-item]

    sqlite_store.record("c", [("a", "1")])

    assert sqlite_store.load_checksums("c") == {"a": "1"}


def test_sqlite_summary_counts_documents_and_groups(sqlite_store: SqliteStateStore) -> None:
    sqlite_store.record("c", [("a", "1"), ("b", "2")])
    sqlite_store.record("c", [("g", "1")], kind="group")
    sqlite_store.save_checkpoint("c", {"cursor": 1})

    summary = sqlite_store.summary("c")

    assert (summary["documents"], summary["groups"], summary["checkpoint"]) == (2, 1, {"cursor": 1})
    assert sqlite_store.connectors() == ["c"]


def test_a_second_run_on_the_same_state_is_refused_naming_the_first(
    tmp_path, make_connector, make_docs, destination
) -> None:
    import os

    from ccf_core import RunStatus, SyncEngine

    first = SqliteStateStore(tmp_path / "state.db")
    second = SqliteStateStore(tmp_path / "state.db")
    with first.lock("listing"):
        report = SyncEngine(destination, second).run(make_connector(make_docs(3)))

    assert report.status is RunStatus.FAILED
    assert (report.error or "").startswith("locked:")
    assert f"process {os.getpid()}" in (report.error or "")
    assert destination.sent_ids == []
    assert destination.runs == []


def test_the_lock_is_released_when_the_run_ends(tmp_path, make_connector, make_docs, destination) -> None:
    from ccf_core import RunStatus, SyncEngine

    state = SqliteStateStore(tmp_path / "state.db")
    SyncEngine(destination, state).run(make_connector(make_docs(3)))

    report = SyncEngine(destination, state).run(make_connector(make_docs(3)))

    assert report.status is RunStatus.SUCCEEDED


def test_runs_of_other_connectors_do_not_wait_for_each_other(tmp_path) -> None:
    from ccf_core.errors import RunLocked

    state = SqliteStateStore(tmp_path / "state.db")
    with state.lock("a"):
        with state.lock("b"):
            held_both = True
        with pytest.raises(RunLocked, match="another run of a "), state.lock("a"):
            pass
    assert held_both


# -- the file's layout -------------------------------------------------------------------------

#: The first layout (user_version 0): one table keyed by the scope's name, as earlier releases wrote it.
FIRST_LAYOUT = """
CREATE TABLE synced (
    connector TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, checksum TEXT NOT NULL,
    synced_at TEXT NOT NULL, PRIMARY KEY (connector, kind, item_id)
) WITHOUT ROWID;
CREATE TABLE checkpoints (connector TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at TEXT NOT NULL);
INSERT INTO synced VALUES ('one', 'document', 'a', '1', '2026-01-01T00:00:00+00:00');
INSERT INTO synced VALUES ('one', 'document', 'b', 'pending-update-0', '2026-01-01T00:00:00+00:00');
INSERT INTO synced VALUES ('one', 'group', 'eng', 'g1', '2026-01-02T00:00:00+00:00');
INSERT INTO synced VALUES ('two', 'document', 'a', '2', '2026-01-03T00:00:00+00:00');
INSERT INTO checkpoints VALUES ('one', '{"cursor": 7}', '2026-01-01T00:00:00+00:00');
"""


def test_a_file_of_the_first_layout_is_moved_to_numbered_scopes_with_every_record(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.executescript(FIRST_LAYOUT)

    with SqliteStateStore(path) as store:
        assert store.load_checksums("one") == {"a": "1", "b": "pending-update-0"}
        assert store.load_checksums("one", kind="group") == {"eng": "g1"}
        assert list(store.iter_checksums("two")) == [("a", "2")]
        assert store.get_checkpoint("one") == {"cursor": 7}
        assert store.summary("one")["last_synced_at"] == "2026-01-02T00:00:00+00:00"
        assert store.connectors() == ["one", "two"]
        store.record("one", [("c", "3")])
    with SqliteStateStore(path) as again:  # opening a moved file again changes nothing
        assert again.load_checksums("one") == {"a": "1", "b": "pending-update-0", "c": "3"}
    with contextlib.closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("SELECT type FROM sqlite_master WHERE name = 'synced'").fetchone()[0] == "view"
        assert raw.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the old table's room given back


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT OR REPLACE INTO synced VALUES ('one', 'document', 'a', '1', 'now')",
        "UPDATE synced SET checksum = '2' WHERE item_id = 'a'",
        "DELETE FROM synced WHERE item_id = 'a'",
    ],
)
def test_a_release_of_the_first_layout_cannot_write_to_a_moved_file(tmp_path: Path, statement: str) -> None:
    """Its writes would go where no run of this release looks: they fail instead, saying why."""
    with SqliteStateStore(tmp_path / "state.db") as store:
        store.record("one", [("a", "1")])

    with (
        contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as old,
        pytest.raises(sqlite3.IntegrityError, match="moved to layout 1 by a newer release of ccf: upgrade"),
    ):
        old.execute(statement)
    with SqliteStateStore(tmp_path / "state.db") as store:
        assert store.load_checksums("one") == {"a": "1"}


def test_a_dry_run_store_refuses_a_file_of_the_first_layout_and_leaves_it_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.executescript(FIRST_LAYOUT)

    with pytest.raises(
        sqlite3.DatabaseError, match="a dry run changes nothing, so run once without --dry-run"
    ):
        SqliteStateStore(path, move=False)

    with contextlib.closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
        assert raw.execute("SELECT COUNT(*) FROM synced").fetchone()[0] == 4
    with SqliteStateStore(tmp_path / "new.db", move=False) as new:  # a new file is no move
        new.record("c", [("a", "1")])
        assert new.load_checksums("c") == {"a": "1"}


def test_a_file_of_a_newer_layout_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path)) as newer:
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(sqlite3.DatabaseError, match=r"newer release of ccf.*Upgrade ccf"):
        SqliteStateStore(path)


def test_a_failed_first_record_of_a_scope_leaves_it_usable_from_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        with pytest.raises(sqlite3.IntegrityError):
            store.record("new", [("a", "1"), ("b", None)])  # type: ignore[list-item]
        store.record("new", [("a", "1")])

        with SqliteStateStore(path) as other:
            other.record("new", [("b", "2")])
            assert other.load_checksums("new") == {"a": "1", "b": "2"}
        assert store.load_checksums("new") == {"a": "1", "b": "2"}


def test_forget_and_read_of_a_scope_never_written_number_nothing(sqlite_store: SqliteStateStore) -> None:
    sqlite_store.forget("nobody", ["a"])
    sqlite_store.record("nobody", [])

    assert list(sqlite_store.iter_checksums("nobody")) == []
    assert sqlite_store.connectors() == []
    with contextlib.closing(sqlite3.connect(sqlite_store.path)) as raw:
        assert raw.execute("SELECT COUNT(*) FROM scopes").fetchone()[0] == 0


def test_connections_opening_a_file_of_the_first_layout_at_once_move_it_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.executescript(FIRST_LAYOUT)

    with caplog.at_level("INFO", logger="ccf_core.state.sqlite"), ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: SqliteStateStore(path), range(4)))
    assert sum("moving the records" in record.getMessage() for record in caplog.records) == 1
    try:
        for store in stores:
            assert store.load_checksums("one") == {"a": "1", "b": "pending-update-0"}
            assert store.load_checksums("two") == {"a": "2"}
    finally:
        for store in stores:
            store.close()
