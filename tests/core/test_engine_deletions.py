"""Deletions, the mass-delete guard, incremental checkpoints, cancellation and groups."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ccf_core import BatchLimits, Group, RunStatus, SyncMode, SyncReport

# Every test runs with the working set in memory and on disk.
pytestmark = pytest.mark.usefixtures("working_set_layout")

Run = Callable[..., SyncReport]


# -- full mode ---------------------------------------------------------------------------------


def test_full_mode_deletes_documents_that_disappeared(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:8]))

    assert report.status is RunStatus.SUCCEEDED
    assert sorted(destination.deleted_ids) == [docs[8].id, docs[9].id]
    assert report.deleted == 2
    assert sorted(state.load_checksums("listing")) == [doc.id for doc in docs[:8]]


def test_deletions_are_batched_by_max_delete_ids(
    run_sync: Run, make_connector, make_docs, make_destination
) -> None:
    destination = make_destination(BatchLimits(max_delete_ids=2))
    docs = make_docs(10)
    run_sync(make_connector(docs), destination=destination)

    run_sync(make_connector(docs[:5]), destination=destination, allow_mass_delete=True)

    assert [len(batch) for batch in destination.delete_batches] == [2, 2, 1]


def test_failed_run_deletes_nothing(run_sync: Run, make_connector, make_docs, destination, state) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:8], fail_after=4))

    assert report.status is RunStatus.FAILED
    assert "source went away" in (report.error or "")
    assert destination.deleted_ids == []
    assert len(state.load_checksums("listing")) == 10


def test_failed_run_saves_no_checkpoint(run_sync: Run, make_connector, make_docs, state) -> None:
    report = run_sync(make_connector(make_docs(5), checkpoint={"cursor": 5}, fail_after=3))

    assert report.status is RunStatus.FAILED
    assert state.get_checkpoint("listing") is None


def test_failed_run_keeps_batches_accepted_before_the_failure(
    run_sync: Run, make_connector, make_docs, make_destination, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccf_core.uploader.GROUP_MAX_BATCHES", 1)  # each full batch is sent at once
    destination = make_destination(BatchLimits(max_documents=2))
    docs = make_docs(9)

    report = run_sync(make_connector(docs, fail_after=5), destination=destination)

    assert report.status is RunStatus.FAILED
    assert sorted(state.load_checksums("listing")) == [doc.id for doc in docs[:4]]
    assert report.added == 4


def test_mass_delete_guard_fails_the_run_and_deletes_nothing(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:4]))

    assert report.status is RunStatus.FAILED
    assert "--allow-mass-delete" in (report.error or "")
    assert "6 of the 10" in (report.error or "")
    assert destination.deleted_ids == []
    assert len(state.load_checksums("listing")) == 10


def test_deleting_exactly_half_is_allowed_by_default(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:5]))

    assert report.status is RunStatus.SUCCEEDED
    assert report.deleted == 5


def test_allow_mass_delete_deletes_them(run_sync: Run, make_connector, make_docs, destination, state) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:1]), allow_mass_delete=True)

    assert report.status is RunStatus.SUCCEEDED
    assert report.deleted == 9
    assert list(destination.documents) == [docs[0].id]
    assert list(state.load_checksums("listing")) == [docs[0].id]


def test_max_delete_fraction_is_configurable(run_sync: Run, make_connector, make_docs, destination) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs))

    report = run_sync(make_connector(docs[:8]), max_delete_fraction=0.1)

    assert report.status is RunStatus.FAILED
    assert "--allow-mass-delete" in (report.error or "")
    assert destination.deleted_ids == []


def test_mass_delete_guard_ignores_an_empty_index(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    report = run_sync(make_connector(make_docs(3), deleted=["never-synced"]))

    assert report.status is RunStatus.SUCCEEDED


# -- incremental mode --------------------------------------------------------------------------


def test_incremental_deletes_explicit_ids(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs, mode=SyncMode.INCREMENTAL))

    report = run_sync(make_connector([], mode=SyncMode.INCREMENTAL, deleted=[docs[1].id]))

    assert destination.deleted_ids == [docs[1].id]
    assert report.deleted == 1
    assert docs[1].id not in state.load_checksums("listing")


def test_incremental_does_not_delete_unseen_documents(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs, mode=SyncMode.INCREMENTAL))

    report = run_sync(make_connector(docs[:1], mode=SyncMode.INCREMENTAL))

    assert report.status is RunStatus.SUCCEEDED
    assert destination.deleted_ids == []
    assert len(state.load_checksums("listing")) == 4


def test_incremental_checkpoint_is_passed_to_the_next_run(
    run_sync: Run, make_connector, make_docs, state
) -> None:
    first = make_connector(make_docs(2), mode=SyncMode.INCREMENTAL, checkpoint={"cursor": "2024-01-01"})
    second = make_connector([], mode=SyncMode.INCREMENTAL)

    run_sync(first)
    run_sync(second)

    assert first.contexts[0].checkpoint is None
    assert first.contexts[0].full is False
    assert second.contexts[0].checkpoint == {"cursor": "2024-01-01"}
    assert state.get_checkpoint("listing") == {"cursor": "2024-01-01"}


def test_incremental_checkpoint_is_not_saved_by_a_failed_run(
    run_sync: Run, make_connector, make_docs, state
) -> None:
    run_sync(make_connector(make_docs(2), mode=SyncMode.INCREMENTAL, checkpoint={"cursor": 1}))

    report = run_sync(
        make_connector(make_docs(4), mode=SyncMode.INCREMENTAL, checkpoint={"cursor": 2}, fail_after=3)
    )

    assert report.status is RunStatus.FAILED
    assert state.get_checkpoint("listing") == {"cursor": 1}


def test_forced_full_pass_ignores_checkpoint_and_finds_deletions(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs, mode=SyncMode.INCREMENTAL, checkpoint={"cursor": 1}))
    forced = make_connector(docs[:3], mode=SyncMode.INCREMENTAL)

    report = run_sync(forced, full=True)

    assert forced.contexts[0].checkpoint is None
    assert forced.contexts[0].full is True
    assert report.mode == "full"
    assert destination.deleted_ids == [docs[3].id]


# -- cancellation ------------------------------------------------------------------------------


def test_cancelled_run_stops_and_keeps_accepted_batches(
    run_sync: Run, make_connector, make_docs, make_destination, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccf_core.uploader.GROUP_MAX_BATCHES", 1)  # each full batch is sent at once
    destination = make_destination(BatchLimits(max_documents=2))
    docs = make_docs(10)
    run_sync(make_connector(docs[:6]), destination=destination)
    destination.forget_calls()

    report = run_sync(make_connector(docs[6:], cancel_after=3, checkpoint={"c": 1}), destination=destination)

    assert report.status is RunStatus.STOPPED
    assert destination.closed[-1] is RunStatus.STOPPED
    assert destination.deleted_ids == []
    assert state.get_checkpoint("listing") is None
    assert report.added == 2
    assert sorted(state.load_checksums("listing")) == [doc.id for doc in docs[:8]]


def test_cancel_before_deletions_deletes_nothing(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs))

    class CancelAtTheEnd(make_connector):  # type: ignore[misc, valid-type]
        def deleted_document_ids(self, context):  # type: ignore[no-untyped-def]
            context.cancel()
            return []

    report = run_sync(CancelAtTheEnd(docs[:3]))

    assert report.status is RunStatus.STOPPED
    assert destination.deleted_ids == []


# -- groups ------------------------------------------------------------------------------------


def test_new_groups_are_sent(run_sync: Run, make_connector, destination, state) -> None:
    groups = [Group(name="eng", users=("a@example.com",)), Group(name="ops", groups=("eng",))]

    report = run_sync(make_connector([], groups=groups))

    assert destination.group_puts == [groups]
    assert report.groups == 2
    assert sorted(state.load_checksums("listing", kind="group")) == ["eng", "ops"]


def test_unchanged_groups_are_not_sent_again(run_sync: Run, make_connector, destination) -> None:
    groups = [Group(name="eng", users=("a@example.com",))]
    run_sync(make_connector([], groups=groups))
    destination.forget_calls()

    run_sync(make_connector([], groups=[Group(name="eng", users=("a@example.com",))]))

    assert destination.group_puts == []
    assert destination.group_deletes == []


def test_changed_group_is_sent_again(run_sync: Run, make_connector, destination) -> None:
    run_sync(make_connector([], groups=[Group(name="eng", users=("a@example.com",))]))
    destination.forget_calls()
    changed = Group(name="eng", users=("a@example.com", "b@example.com"))

    run_sync(make_connector([], groups=[changed]))

    assert destination.group_puts == [[changed]]


def test_groups_no_longer_reported_are_deleted_in_full_mode(
    run_sync: Run, make_connector, destination, state
) -> None:
    run_sync(make_connector([], groups=[Group(name="eng"), Group(name="ops")]))

    run_sync(make_connector([], groups=[Group(name="eng")]))

    assert destination.group_deletes == [["ops"]]
    assert list(state.load_checksums("listing", kind="group")) == ["eng"]


def test_groups_are_kept_when_the_connector_does_not_manage_them(
    run_sync: Run, make_connector, destination
) -> None:
    run_sync(make_connector([], groups=[Group(name="eng")]))

    run_sync(make_connector([], groups=None))

    assert destination.group_deletes == []


def test_group_and_document_state_are_separate(run_sync: Run, make_connector, make_doc, state) -> None:
    run_sync(make_connector([make_doc("eng")], groups=[Group(name="eng")]))

    assert list(state.load_checksums("listing")) == ["eng"]
    assert list(state.load_checksums("listing", kind="group")) == ["eng"]


def test_keyboard_interrupt_closes_the_destination_as_stopped_and_propagates(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(3)

    class Interrupted(make_connector):  # type: ignore[misc, valid-type]
        def documents(self, context):  # type: ignore[no-untyped-def]
            yield docs[0]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sync(Interrupted(docs))

    assert destination.closed[-1] is RunStatus.STOPPED
