"""The run's working set answers the same in memory and on disk, and spills from one to the other."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ccf_core.state import MemoryStateStore, SqliteStateStore
from ccf_core.working_set import SEEN, WorkingSet


@pytest.fixture(params=[1_000_000, 0, 3], ids=["memory", "disk", "spills"])
def spill_at(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _records(count: int) -> list[tuple[str, str]]:
    return [(f"id-{number:04d}", f"value-{number}") for number in range(count)]


def test_get_answers_the_stored_value_and_none_for_an_unknown_id(spill_at: int) -> None:
    with WorkingSet(spill_at).load(_records(10)) as known:
        assert known.get("id-0007") == "value-7"
        assert known.get("missing") is None
        assert known.recorded == 10


def test_see_returns_the_stored_value_then_seen_for_a_duplicate(spill_at: int) -> None:
    with WorkingSet(spill_at).load(_records(5)) as known:
        assert known.see("id-0002") == "value-2"
        assert known.see("id-0002") == SEEN
        assert known.get("id-0002") == SEEN


def test_a_new_id_is_none_when_first_seen_and_a_duplicate_after(spill_at: int) -> None:
    with WorkingSet(spill_at).load(_records(5)) as known:
        assert known.see("new") is None
        assert known.see("new") == SEEN


def test_unseen_lists_every_stored_id_not_seen_in_id_order(spill_at: int) -> None:
    with WorkingSet(spill_at).load(reversed(_records(10))) as known:
        for item_id in ("id-0001", "id-0005", "brand-new"):
            known.see(item_id)
        unseen = list(known.unseen(page_size=3))
    expected = [record for record in _records(10) if record[0] not in {"id-0001", "id-0005"}]
    assert unseen == expected


def test_ids_that_are_not_valid_unicode_text_are_kept_as_they_are(spill_at: int) -> None:
    """A file name that is not UTF-8 arrives with a lone surrogate; validation, not the set, fails it."""
    with WorkingSet(spill_at).load(_records(3)) as known:
        assert known.see("caf\udce9.md") is None
        assert known.see("caf\udce9.md") == SEEN
        assert known.see("id-0001") == "value-1"
        assert [item for item, _ in known.unseen()] == ["id-0000", "id-0002"]


def test_a_set_past_its_limit_moves_to_a_file_that_leaves_nothing_behind(tmp_path: Path) -> None:
    """The file is unlinked once open: even a killed run leaves no working set in the folder."""
    known = WorkingSet(spill_at=3, directory=tmp_path).load(_records(2))
    assert not known.on_disk
    known.see("id-0000")
    known.see("a")
    known.see("b")
    assert known.on_disk
    assert list(tmp_path.iterdir()) == []
    known.load([(f"more-{number:05d}", "v") for number in range(20_000)])
    assert known.get("id-0000") == SEEN
    assert known.get("id-0001") == "value-1"
    assert known.get("more-19999") == "v"
    assert len(list(known.unseen())) == 20_001
    known.close()
    assert list(tmp_path.iterdir()) == []


def test_sqlite_state_streams_checksums_in_pages_in_id_order(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "state.db") as state:
        state.record("c", reversed(_records(25)))
        state.record("c", [("g", "group-value")], kind="group")
        assert list(state.iter_checksums("c", page_size=4)) == _records(25)
        assert list(state.iter_checksums("c", kind="group")) == [("g", "group-value")]


def test_sqlite_state_pages_survive_writes_between_pages(tmp_path: Path) -> None:
    """Forgetting ids while the listing goes on (a reconcile does) skips or repeats nothing else."""
    with SqliteStateStore(tmp_path / "state.db") as state:
        state.record("c", _records(10))
        seen = []
        for item_id, _ in state.iter_checksums("c", page_size=3):
            seen.append(item_id)
            state.forget("c", [item_id])
        assert seen == [item_id for item_id, _ in _records(10)]


def test_memory_state_streams_checksums_in_id_order() -> None:
    state = MemoryStateStore()
    state.record("c", reversed(_records(7)))
    assert list(state.iter_checksums("c", page_size=2)) == _records(7)


class LoadOnlyState:
    """A third-party state store from before ``iter_checksums``: only ``load_checksums`` reads."""

    name = "load-only"

    def __init__(self) -> None:
        self.inner = MemoryStateStore()
        self.record = self.inner.record
        self.forget = self.inner.forget
        self.get_checkpoint = self.inner.get_checkpoint
        self.save_checkpoint = self.inner.save_checkpoint
        self.reset = self.inner.reset
        self.close = self.inner.close

    def load_checksums(self, connector: str, kind: str = "document") -> dict[str, str]:
        return self.inner.load_checksums(connector, kind)


def test_a_store_without_streaming_still_finds_unchanged_and_deleted_documents(
    run_sync, make_connector, make_docs, destination
) -> None:
    state = LoadOnlyState()
    docs = make_docs(4)
    run_sync(make_connector(docs), state=state)

    report = run_sync(make_connector(docs[:3]), state=state)

    assert (report.unchanged, report.deleted) == (3, 1)
    assert destination.deleted_ids == [docs[3].id]


def test_restore_undoes_see_of_a_stored_id(spill_at: int) -> None:
    with WorkingSet(spill_at).load(_records(5)) as known:
        previous = known.see("id-0002")
        known.restore("id-0002", previous)

        assert known.get("id-0002") == "value-2"
        assert ("id-0002", "value-2") in list(known.unseen())


def test_restore_undoes_see_of_a_new_id(spill_at: int) -> None:
    with WorkingSet(spill_at).load(_records(5)) as known:
        known.restore("id-new", known.see("id-new"))

        assert known.get("id-new") is None
        assert known.see("id-new") is None  # not a duplicate


def test_restore_after_the_marks_were_written_to_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seen mark already written to the SQLite file is undone there too."""
    monkeypatch.setattr("ccf_core.working_set._MARKS_BATCH", 1)
    with WorkingSet(0).load(_records(5)) as known:
        stored, new = known.see("id-0001"), known.see("id-new")
        known.restore("id-0001", stored)
        known.restore("id-new", new)

        assert known.get("id-0001") == "value-1"
        assert known.get("id-new") is None
        assert [item for item, _ in known.unseen()] == [f"id-{number:04d}" for number in range(5)]


@pytest.mark.parametrize("order", ["in id order", "reversed", "shuffled"])
def test_the_file_answers_as_the_dict_whatever_the_order_of_lookups(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows read ahead on disk never answer for a value the run changed (seen marks, restores)."""
    monkeypatch.setattr("ccf_core.working_set._MARKS_BATCH", 7)
    stored = [(f"id-{number:04d}", f"value-{number}") for number in range(0, 600, 2)]
    wanted = [f"id-{number:04d}" for number in range(600)] * 2  # every stored id, new ids between, twice
    if order == "reversed":
        wanted.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(wanted)
    with WorkingSet(1_000_000).load(stored) as memory, WorkingSet(0).load(stored) as disk:
        for position, item_id in enumerate(wanted):
            assert disk.get(item_id) == memory.get(item_id), item_id
            before = memory.see(item_id)
            assert disk.see(item_id) == before, item_id
            if position % 5 == 0 and before != SEEN:
                memory.restore(item_id, before)
                disk.restore(item_id, before)
        assert list(disk.unseen()) == list(memory.unseen())
