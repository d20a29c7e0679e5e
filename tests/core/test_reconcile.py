"""The state and the local index never disagree silently: a mismatch means a full reconcile."""

from __future__ import annotations

from pathlib import Path

from ccf_core import Document, DocumentMetadata, SyncEngine, SyncReport
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.state import SqliteStateStore
from tests.support import ListConnector


def _docs(*ids: str, prefix: str = "text") -> list[Document]:
    return [Document(id=i, content=f"{prefix} {i}", metadata=DocumentMetadata(title=i)) for i in ids]


def _run(tmp: Path, docs: list[Document], name: str = "listing", **options) -> SyncReport:
    connector = ListConnector(docs)
    connector.name = name  # type: ignore[misc]
    with LocalIndex(tmp / "index.db") as index, SqliteStateStore(tmp / "state.db") as state:
        return SyncEngine(index, state).run(connector)


def _held(tmp: Path, connector: str = "listing") -> list[str]:
    with LocalIndex(tmp / "index.db") as index:
        return [doc.id for doc in index.list_documents(connector=connector)]


def test_reruns_with_the_same_index_do_not_reconcile(tmp_path: Path) -> None:
    _run(tmp_path, _docs("a", "b"))

    report = _run(tmp_path, _docs("a", "b"))

    assert report.reconciled is None
    assert report.unchanged == 2


def test_a_deleted_index_is_filled_again_though_the_state_says_synced(tmp_path: Path) -> None:
    _run(tmp_path, _docs("a", "b", "c"))
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"index.db{suffix}").unlink(missing_ok=True)

    report = _run(tmp_path, _docs("a", "b", "c"))

    assert report.reconciled is not None and "another index" in report.reconciled
    assert "reconciled" in report.to_text()
    assert report.added == 3
    assert _held(tmp_path) == ["a", "b", "c"]


def test_a_lost_state_is_rebuilt_from_the_index_so_deletions_still_happen(tmp_path: Path) -> None:
    _run(tmp_path, _docs("a", "b", "c"))
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"state.db{suffix}").unlink(missing_ok=True)

    report = _run(tmp_path, _docs("a", "b"))

    assert report.reconciled is not None and "no record" in report.reconciled
    assert (report.updated, report.unchanged, report.deleted) == (2, 0, 1)
    assert _held(tmp_path) == ["a", "b"]


def test_an_emptied_index_is_reconciled(tmp_path: Path) -> None:
    _run(tmp_path, _docs("a", "b"))
    (tmp_path / "index.db").write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"index.db{suffix}").unlink(missing_ok=True)

    report = _run(tmp_path, _docs("a", "b"))

    assert report.added == 2
    assert _held(tmp_path) == ["a", "b"]


def test_two_connectors_with_the_same_ids_keep_their_own_documents(tmp_path: Path) -> None:
    _run(tmp_path, _docs("shared", "a-only", prefix="from A"), name="alpha")
    _run(tmp_path, _docs("shared", prefix="from B"), name="beta")

    again = _run(tmp_path, _docs("shared", "a-only", prefix="from A"), name="alpha")

    assert again.unchanged == 2
    with LocalIndex(tmp_path / "index.db") as index:
        assert index.get("shared", connector="alpha").text == "from A shared"
        assert index.get("shared", connector="beta").text == "from B shared"
        hits = index.search("shared")
    assert sorted(hit.connector for hit in hits) == ["alpha", "beta"]
