"""Repository files carry the dates of the first and the last commit that touched them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fake_gitlab import FakeGitLabState, stamp

from ccf_core.testing import ConnectorHarness
from ccf_gitlab import acl, render
from ccf_gitlab.client import GitLabClient
from ccf_gitlab.models import FileHistory

HANDBOOK = 1000
COMMITS = "projects/*/repository/commits"


def _at(minute: int) -> datetime:
    """The fake's commit time ``minute`` as the document carries it."""
    return datetime.fromisoformat(stamp(minute).replace("Z", "+00:00"))


def test_a_file_carries_the_dates_of_its_first_and_last_commit(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    project = world.projects[HANDBOOK]
    created = project.clock  # the world's first commit added every handbook file
    project.commit({"docs/onboarding.md": b"# Onboarding\n\nBring your badge.\n"}, at=5000)
    project.commit({"src/deploy.py": b"def deploy():\n    return 'blue green'\n"}, at=6000)
    run = harness.run()
    onboarding = run.document("p1000/file/docs/onboarding.md")
    assert (onboarding.created_at, onboarding.last_updated_at) == (_at(created), _at(5000))
    assert onboarding.attributes["gitlab_last_commit"] == project.commits[1][0]
    readme = run.document("p1000/file/README.md")  # untouched since: created and updated together
    assert (readme.created_at, readme.last_updated_at) == (_at(created), _at(created))


def test_a_changed_file_moves_its_updated_date_and_keeps_its_created_date(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    first = harness.run().document("p1000/file/src/deploy.py")
    world.projects[HANDBOOK].commit({"src/deploy.py": b"def deploy():\n    return 'blue green'\n"}, at=9000)
    run = harness.run()  # incremental: the compare API finds the change
    assert run.report.updated == 1
    changed = run.document("p1000/file/src/deploy.py")
    assert changed.created_at == first.created_at
    assert first.last_updated_at is not None and changed.last_updated_at == _at(9000)
    assert changed.last_updated_at > first.last_updated_at
    assert run.document("p1000/file/README.md").last_updated_at == first.last_updated_at


def test_only_downloaded_files_cost_a_commits_request(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    first = harness.run()
    files = sum(1 for doc_id in first.document_ids() if "/file/" in doc_id)
    assert world.calls[COMMITS] == files  # one request each: every history fits on one page
    harness.run()
    assert world.calls[COMMITS] == files  # unchanged: no download, no commits request
    world.projects[HANDBOOK].commit({"docs/onboarding.md": b"# Onboarding\n\nDay two.\n"})
    harness.run()
    assert world.calls[COMMITS] == files + 1


def test_a_long_history_is_read_to_its_oldest_commit(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    project = world.projects[HANDBOOK]
    created = project.clock
    for n in range(150):  # two pages of commits of 100
        project.commit({"docs/onboarding.md": b"# Onboarding\n\nRevision %d.\n" % n})
    run = harness.run()
    doc = run.document("p1000/file/docs/onboarding.md")
    assert (doc.created_at, doc.last_updated_at) == (_at(created), _at(project.clock))
    files = sum(1 for doc_id in run.document_ids() if "/file/" in doc_id)
    assert world.calls[COMMITS] == files + 1  # that file's history took a second page


def test_a_file_whose_dates_cannot_be_read_is_indexed_without_them_and_dated_next_run(
    harness: ConnectorHarness, world: FakeGitLabState, config: dict[str, Any]
) -> None:
    settings = {**config, "max_retries": 1}
    project = world.projects[HANDBOOK]
    project.fail_parts["repository/commits?path=docs/onboarding.md"] = 503
    run = harness.run(config=settings)
    assert run.report.status == "completed_with_failures"
    assert run.report.failed == 0
    doc = run.document("p1000/file/docs/onboarding.md")
    assert "Ask for a laptop on day one." in doc.text
    assert (doc.created_at, doc.last_updated_at) == (None, None)
    assert "gitlab_last_commit" not in doc.attributes
    [problem] = run.report.problems
    assert problem.document_id == "acme/handbook: docs/onboarding.md"
    assert "HTTP 503" in problem.message and "added on the next run" in problem.message
    assert run.document("p1000/file/README.md").created_at is not None  # the other files are dated

    del project.fail_parts["repository/commits?path=docs/onboarding.md"]
    calls = world.calls[COMMITS]
    run = harness.run(config=settings)  # incremental, yet the undated file is loaded again
    assert (run.report.status, run.report.updated) == ("succeeded", 1)
    assert run.document("p1000/file/docs/onboarding.md").created_at == _at(project.clock)
    assert world.calls[COMMITS] == calls + 1  # only that file
    assert harness.run(config=settings).report.updated == 0


def test_a_forbidden_commits_listing_does_not_lose_a_new_file(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    project = world.projects[HANDBOOK]
    project.commit({"docs/holidays.md": b"# Holidays\n\nTwenty-five days.\n"})
    project.fail_parts["repository/commits?path=docs/holidays.md"] = 403
    run = harness.run()
    assert "Twenty-five days." in run.document("p1000/file/docs/holidays.md").text
    assert any("403 forbidden" in problem.message for problem in run.report.problems)


def test_files_indexed_before_they_had_dates_get_them_after_the_upgrade(
    harness: ConnectorHarness, world: FakeGitLabState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendering format is part of every version: the next run after the upgrade renders again."""
    with monkeypatch.context() as old:
        old.setattr(render, "FORMAT", 1)
        old.setattr(acl, "FORMAT", 1)
        old.setattr(GitLabClient, "file_history", lambda *args: FileHistory())  # the old, dateless files
        first = harness.run()
    files = [doc_id for doc_id in first.document_ids() if "/file/" in doc_id]
    assert all(first.document(doc_id).created_at is None for doc_id in files)
    run = harness.run()
    assert run.report.updated == len(files)  # only the files changed; the rest renders the same
    assert all(run.document(doc_id).created_at is not None for doc_id in files)
