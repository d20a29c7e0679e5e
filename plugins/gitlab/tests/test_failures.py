"""What could not be listed is named and kept; throttling and transient errors are retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_gitlab import FakeGitLabState, Item

from ccf_core import SyncOptions
from ccf_core.testing import ConnectorHarness, ConnectorRun
from ccf_gitlab import GitLabConnector

HANDBOOK, SECRET = 1000, 1001
SECRET_IDS = {"p1001/overview", "p1001/file/README.md", "p1001/file/notes.md", "p1001/issue/1"}


def test_a_403_project_is_named_in_the_report_and_its_documents_are_kept(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    world.projects[SECRET].fail_with = 403
    world.projects[HANDBOOK].issues[1].title, world.projects[HANDBOOK].issues[1].updated = "Runbook v2", 300
    run = harness.run(full=True)
    assert set(run.document_ids()) >= SECRET_IDS
    assert run.report.kept == len(SECRET_IDS)
    assert run.report.deleted == 0
    assert run.report.updated == 1  # the other projects synced
    messages = [problem.message for problem in run.report.problems]
    assert any("acme/platform/secret" in message and "403" in message for message in messages), messages


def test_a_project_that_recovers_syncs_again(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    world.projects[SECRET].fail_with = 500
    assert harness.run().report.status == "completed_with_failures"
    world.projects[SECRET].fail_with = None
    world.projects[SECRET].commit({"notes.md": None})
    run = harness.run()
    assert run.report.failed == 0
    assert "p1001/file/notes.md" not in run.document_ids()
    assert "p1001/file/README.md" in run.document_ids()


def test_a_missing_configured_project_is_reported_and_the_others_sync(
    harness: ConnectorHarness, config: dict[str, Any]
) -> None:
    run = harness.run(config={**config, "groups": [], "projects": ["acme/handbook", "acme/gone"]})
    assert "p1000/overview" in run.document_ids()
    assert any("acme/gone" in failure.message and "404" in failure.message for failure in run.report.problems)


def test_an_unreadable_group_keeps_the_documents_of_its_projects(
    harness: ConnectorHarness, config: dict[str, Any], world: FakeGitLabState
) -> None:
    settings = {**config, "groups": ["acme/platform"], "projects": ["acme/handbook"]}
    harness.run(config=settings)
    world.groups.pop(101)  # acme/platform now answers 404
    run = harness.run(config=settings, full=True)
    assert set(run.document_ids()) >= SECRET_IDS
    assert any("acme/platform" in failure.message for failure in run.report.problems)


def test_one_failing_kind_keeps_only_its_documents(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    world.projects[HANDBOOK].fail_parts["wikis"] = 403
    world.projects[HANDBOOK].commit({"docs/onboarding.md": None})
    run = harness.run(full=True)
    ids = set(run.document_ids())
    assert "p1000/wiki/home" in ids
    assert "p1000/file/docs/onboarding.md" not in ids
    assert any("acme/handbook (wiki)" in failure.message for failure in run.report.problems)


def test_kept_documents_get_a_new_acl_once_their_listing_recovers(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    def users(run: ConnectorRun) -> set[str]:
        principals = run.document("p1001/issue/1").acl[0]["principals"]
        return {p["user"]["id"] for p in principals if "user" in p}

    world.projects[SECRET].issues[2] = Item(2, "Later issue", created=50, updated=50)
    harness.run()
    world.projects[SECRET].fail_parts["issues"] = 500
    world.projects[SECRET].members[5] = 20  # eve becomes a Reporter while the issues cannot be listed
    assert "eve@example.com" not in users(harness.run())
    del world.projects[SECRET].fail_parts["issues"]
    assert "eve@example.com" in users(harness.run())


def test_an_item_that_failed_to_load_is_loaded_on_the_next_run(
    world: FakeGitLabState, config: dict[str, Any], tmp_path: Path
) -> None:
    # A generous error budget, so the run with the failure completes and saves its checkpoint.
    options = SyncOptions(error_budget=1.0)
    with ConnectorHarness(GitLabConnector, config, directory=tmp_path, options=options) as harness:
        harness.run()
        issues = world.projects[HANDBOOK].issues
        issues[1].title, issues[1].updated = "Runbook v2", 100
        issues[2].updated = 101  # issue 1 is not the latest: the high-water mark passes it
        world.projects[HANDBOOK].fail_parts["issues/1/notes"] = 500
        failed = harness.run()
        assert failed.report.status == "completed_with_failures"
        assert "p1000/issue/1" in [failure.document_id for failure in failed.report.failures]
        assert failed.document("p1000/issue/1").title.startswith("Deploy runbook")  # the old copy stays
        del world.projects[HANDBOOK].fail_parts["issues/1/notes"]
        assert harness.run().document("p1000/issue/1").title.startswith("Runbook v2")


def test_429_answers_are_waited_out(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    world.fail_next = [429, 429, 429]
    run = harness.run()
    assert world.failed[429] == 3
    assert run.report.status == "succeeded"
    assert len(run.document_ids()) == 15


def test_transient_5xx_answers_are_retried(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    world.projects[HANDBOOK].commit({"docs/onboarding.md": b"# Onboarding\n\nBring your badge.\n"})
    world.fail_next = [502, 503]
    run = harness.run()
    assert world.failed[502] == world.failed[503] == 1
    assert run.report.status == "succeeded"
    assert "Bring your badge." in run.document("p1000/file/docs/onboarding.md").text


def test_a_wrong_token_fails_the_run_with_one_line(harness: ConnectorHarness, config: dict[str, Any]) -> None:
    run = harness.run(config={**config, "token": "glpat-wrong"}, check=False)
    assert run.report.status == "failed"
    error = run.report.error or ""
    assert "authentication failed" in error
    assert "\n" not in error
    assert "glpat-wrong" not in error


def test_an_unreachable_gitlab_fails_the_run_with_one_line(
    harness: ConnectorHarness, config: dict[str, Any]
) -> None:
    run = harness.run(config={**config, "url": "http://127.0.0.1:9", "max_retries": 1}, check=False)
    assert run.report.status == "failed"
    assert run.report.error is not None
    assert "cannot reach GitLab at http://127.0.0.1:9: connection failed" in run.report.error
