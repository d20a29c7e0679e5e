"""GitLab's permissions carried into the index: who finds what with an ACL-aware search."""

from __future__ import annotations

from typing import Any

from fake_gitlab import REPORTER, FakeGitLabState

from ccf_core.testing import ConnectorHarness, ConnectorRun

SECRET = 1001


def _found(run: ConnectorRun, query: str, user: str) -> set[str]:
    return {hit.id for hit in run.search(query, user=user)}


def test_private_project_documents_carry_the_members_principals(harness: ConnectorHarness) -> None:
    doc = harness.run().document("p1001/file/notes.md")
    principals = doc.acl[0]["principals"]
    users = {p["user"]["id"] for p in principals if "user" in p}
    groups = {p["group"]["name"] for p in principals if "group" in p}
    # bob is a Reporter, dave a Developer with no email (his username), alice inherits Owner.
    assert users == {"alice@example.com", "bob@example.com", "dave"}
    assert groups == {"gitlab-project-1001-reporters"}


def test_a_member_finds_private_documents_and_a_non_member_does_not(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert _found(run, "quantum", "bob@example.com") == {
        "p1001/overview",
        "p1001/file/README.md",
        "p1001/file/notes.md",
        "p1001/issue/1",
    }
    assert _found(run, "quantum", "eve@example.com") == set()


def test_members_inherited_from_parent_groups_count(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert "p1001/file/notes.md" in _found(run, "quantum budget", "alice@example.com")


def test_a_guest_never_sees_repository_files_or_confidential_issues(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert _found(run, "quantum", "carol@example.com") == set()
    assert _found(run, "credentials", "carol@example.com") == set()


def test_public_documents_are_visible_to_everyone(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert "p1000/file/docs/onboarding.md" in _found(run, "laptop", "eve@example.com")
    assert run.document("p1000/file/docs/onboarding.md").acl == []


def test_confidential_issues_of_a_public_project_are_for_reporters_only(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert _found(run, "credentials", "eve@example.com") == set()
    assert _found(run, "credentials", "alice@example.com") == {"p1000/issue/2"}
    assert _found(run, "runbook", "eve@example.com") == {"p1000/issue/1"}


def test_internal_projects_are_readable_by_the_internal_group(
    harness: ConnectorHarness, config: dict[str, Any]
) -> None:
    run = harness.run(config={**config, "internal_group": "acme-staff"})
    assert _found(run, "tooling", "eve@example.com") == set()
    assert {hit.id for hit in run.search("tooling", groups=["acme-staff"])} == {
        "p1002/overview",
        "p1002/file/README.md",
    }


def test_project_groups_are_reported_with_their_reporters(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert "gitlab-project-1001-reporters" in run.index.groups_of("bob@example.com")
    assert "gitlab-project-1001-reporters" not in run.index.groups_of("carol@example.com")
    # Through the group alone (a principal the index resolves), bob still finds the documents.
    assert "p1001/file/notes.md" in {
        hit.id for hit in run.search("quantum", groups=["gitlab-project-1001-reporters"])
    }


def test_identity_username_uses_usernames(harness: ConnectorHarness, config: dict[str, Any]) -> None:
    run = harness.run(config={**config, "identity": "username"})
    users = {p["user"]["id"] for p in run.document("p1001/issue/1").acl[0]["principals"] if "user" in p}
    assert users == {"alice", "bob", "dave"}


def test_a_new_member_gets_access_to_every_document_on_the_next_run(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    world.projects[SECRET].members[5] = REPORTER  # eve
    run = harness.run()
    assert run.report.updated == 4
    assert _found(run, "quantum", "eve@example.com") == {
        "p1001/overview",
        "p1001/file/README.md",
        "p1001/file/notes.md",
        "p1001/issue/1",
    }


def test_members_are_fetched_once_per_project_per_run(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    assert world.calls["projects/*/members/all"] == 3
