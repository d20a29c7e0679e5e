"""Groups: PutGroup with the members a connector reports, DeleteGroup for the ones it stopped reporting."""

from __future__ import annotations

from ccf_core import Group, RunStatus
from tests.qbusiness.conftest import LISTING_SCOPE


def test_groups_are_put_as_data_source_groups_with_their_members(
    fake_qbusiness, run_sync, make_connector, make_docs, ids
) -> None:
    groups = [
        Group(name="engineering", users=("ada@example.com", "alan@example.com"), groups=("sre",)),
        Group(name="sre", users=("grace@example.com",)),
    ]

    report = run_sync(make_connector(make_docs(2), groups=groups))

    assert report.status is RunStatus.SUCCEEDED
    engineering = fake_qbusiness.groups["engineering"]
    assert engineering.type == "DATASOURCE"
    assert engineering.data_source_id == ids["data_source_id"]
    assert engineering.member_users == [{"userId": "ada@example.com"}, {"userId": "alan@example.com"}]
    assert engineering.member_groups == [{"groupName": "sre", "type": "DATASOURCE"}]
    assert fake_qbusiness.groups["sre"].member_users == [{"userId": "grace@example.com"}]


def test_a_group_with_no_members_is_put_empty(fake_qbusiness, run_sync, make_connector) -> None:
    run_sync(make_connector([], groups=[Group(name="nobody")]))

    assert fake_qbusiness.groups["nobody"].member_users == []
    assert fake_qbusiness.groups["nobody"].member_groups == []


def test_a_group_no_longer_reported_in_full_mode_is_deleted(
    fake_qbusiness, run_sync, make_connector, make_docs, state, ids
) -> None:
    run_sync(make_connector(make_docs(2), groups=[Group(name="keep", users=("a@x.io",)), Group(name="old")]))

    report = run_sync(make_connector(make_docs(2), groups=[Group(name="keep", users=("a@x.io",))]))

    assert report.status is RunStatus.SUCCEEDED
    assert sorted(fake_qbusiness.groups) == ["keep"]
    (params,) = fake_qbusiness.successful_params("DeleteGroup")
    assert params["groupName"] == "old"
    assert params["dataSourceId"] == ids["data_source_id"]
    assert sorted(state.load_checksums(LISTING_SCOPE, kind="group")) == ["keep"]


def test_a_group_already_gone_from_the_index_counts_as_deleted(
    fake_qbusiness, run_sync, make_connector, state
) -> None:
    run_sync(make_connector([], groups=[Group(name="old")]))
    del fake_qbusiness.groups["old"]

    report = run_sync(make_connector([], groups=[]))

    assert report.failed == 0
    assert state.load_checksums(LISTING_SCOPE, kind="group") == {}


def test_a_group_refused_by_the_service_is_a_failure_and_is_not_recorded(
    fake_qbusiness, run_sync, make_connector, state
) -> None:
    fake_qbusiness.fail_next("PutGroup", "ConflictException", message="group is being updated")

    report = run_sync(make_connector([], groups=[Group(name="busy", users=("a@x.io",))]))

    assert report.failures_by_reason == {"conflict": 1}
    assert "group is being updated" in report.failures[0].message
    assert state.load_checksums(LISTING_SCOPE, kind="group") == {}


def test_a_group_with_more_than_1000_members_fails_with_too_many_members(
    fake_qbusiness, run_sync, make_connector
) -> None:
    crowd = Group(name="crowd", users=tuple(f"user{n}@example.com" for n in range(1001)))

    report = run_sync(make_connector([], groups=[crowd, Group(name="small", users=("a@x.io",))]))

    assert report.failures_by_reason == {"too_many_members": 1}
    assert sorted(fake_qbusiness.groups) == ["small"]
