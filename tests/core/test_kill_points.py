"""A run killed after any one of its writes never leaves the state claiming more than the index holds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ccf_core import BatchLimits
from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.engine import state_scope
from ccf_core.state import SqliteStateStore
from tests.kill_points import run_here, run_in_child, source_versions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")


class SmallBatches(LocalIndex):
    limits = BatchLimits(max_documents=4, max_delete_ids=4, max_in_flight=1)


def _builder(tmp: Path):
    def build():
        return SmallBatches(tmp / "index.db"), SqliteStateStore(tmp / "state.db")

    return build


def _held(tmp: Path) -> dict[str, tuple[str, str]]:
    """``id -> (text, checksum)`` of what the index holds."""
    with LocalIndex(tmp / "index.db") as index:
        return {doc.id: (doc.text, doc.checksum) for doc in index.list_documents()}


def _recorded(tmp: Path) -> dict[str, str]:
    index = SmallBatches(tmp / "index.db")
    scope = state_scope("source", index)
    index.shutdown()
    with SqliteStateStore(tmp / "state.db") as state:
        return state.load_checksums(scope)


def _writes_of_a_whole_run(tmp: Path) -> int:
    before, after = source_versions()
    run_here(_builder(tmp), before)
    return run_in_child(_builder(tmp), after, None, tmp)


def test_the_scenario_has_writes_on_every_path(tmp_path: Path) -> None:
    assert _writes_of_a_whole_run(tmp_path) >= 12


@pytest.mark.parametrize("restore", [False, True], ids=["source-changed", "files-restored"])
def test_a_kill_after_any_write_loses_nothing(tmp_path: Path, restore: bool) -> None:
    before, after = source_versions()
    total = _writes_of_a_whole_run(tmp_path / "count")
    for kill_after in range(1, total + 1):
        tmp = tmp_path / f"kill-{kill_after}"
        tmp.mkdir()
        run_here(_builder(tmp), before)

        run_in_child(_builder(tmp), after, kill_after, tmp)

        held = _held(tmp)
        for doc_id, value in _recorded(tmp).items():
            if value not in (PENDING_DELETE, PENDING_UPDATE):
                assert doc_id in held, f"kill after write {kill_after}: state records {doc_id}, index lost it"
                assert held[doc_id][1] == value, f"kill after write {kill_after}: {doc_id} differs"
        final = before if restore else after
        report = run_here(_builder(tmp), final)
        assert report.error is None, report.error
        held = _held(tmp)
        assert {doc_id: text for doc_id, (text, _) in held.items()} == final, f"kill after write {kill_after}"
        assert set(_recorded(tmp)) == set(final)
        again = run_here(_builder(tmp), final)
        assert (again.added, again.updated, again.deleted) == (0, 0, 0)
