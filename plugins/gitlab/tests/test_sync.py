"""What gets indexed, and how incremental runs stay equal to a full pass while downloading little."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_gitlab import FakeGitLab, FakeGitLabState, Item, stamp

from ccf_core.testing import ConnectorHarness, assert_conformant
from ccf_gitlab import GitLabConnector

HANDBOOK, SECRET, TOOLS = 1000, 1001, 1002


def _raw_downloads(world: FakeGitLabState) -> int:
    return world.calls["projects/*/repository/blobs"]


def test_first_run_indexes_every_kind_of_the_projects_in_scope(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert run.report.status == "succeeded", run.report.error
    assert set(run.document_ids()) == {
        "p1000/overview",
        "p1000/file/README.md",
        "p1000/file/docs/onboarding.md",
        "p1000/file/src/deploy.py",
        "p1000/issue/1",
        "p1000/issue/2",
        "p1000/mr/1",
        "p1000/wiki/home",
        "p1000/release/v1.0",
        "p1001/overview",
        "p1001/file/README.md",
        "p1001/file/notes.md",
        "p1001/issue/1",
        "p1002/overview",
        "p1002/file/README.md",
    }


def test_binary_vendored_and_archived_content_is_left_out(harness: ConnectorHarness) -> None:
    ids = harness.run().document_ids()
    assert "p1000/file/assets/logo.png" not in ids
    assert "p1000/file/node_modules/lib/index.js" not in ids
    assert not any(doc_id.startswith("p1003/") for doc_id in ids)  # acme/attic is archived


def test_issue_document_has_title_url_dates_typed_attributes_and_comments(harness: ConnectorHarness) -> None:
    doc = harness.run().document("p1000/issue/1")
    assert doc.title == "Deploy runbook is outdated (acme/handbook#1)"
    assert doc.source_uri == "http://gitlab.test/acme/handbook/-/issues/1"
    assert doc.created_at is not None and doc.created_at.isoformat().startswith("2026-01-01T00:10")
    assert doc.last_updated_at is not None and doc.last_updated_at.isoformat().startswith("2026-01-01T00:20")
    attributes = doc.attributes
    assert attributes["gitlab_labels"] == ["docs", "ops"]
    assert attributes["gitlab_project"] == "acme/handbook"
    assert attributes["gitlab_kind"] == "issue"
    assert attributes["gitlab_state"] == "opened"
    assert attributes["gitlab_author"] == "alice"
    assert attributes["gitlab_milestone"] == "Q3"
    assert "I will fix the rollback steps." in doc.text
    assert "added label" not in doc.text  # system notes are noise


def test_source_uris_are_gitlab_web_urls(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert run.document("p1000/overview").source_uri == "http://gitlab.test/acme/handbook"
    assert run.document("p1000/file/docs/onboarding.md").source_uri == (
        "http://gitlab.test/acme/handbook/-/blob/main/docs/onboarding.md"
    )
    assert run.document("p1000/mr/1").source_uri == "http://gitlab.test/acme/handbook/-/merge_requests/1"
    assert run.document("p1000/wiki/home").source_uri == "http://gitlab.test/acme/handbook/-/wikis/home"
    assert run.document("p1000/release/v1.0").source_uri == "http://gitlab.test/acme/handbook/-/releases/v1.0"


def test_overview_holds_description_and_readme(harness: ConnectorHarness) -> None:
    doc = harness.run().document("p1000/overview")
    assert "How we work." in doc.text
    assert "Welcome to the acme handbook." in doc.text


def test_markdown_keeps_its_type_and_code_is_plain_text(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert run.document("p1000/file/docs/onboarding.md").content_type == "MD"
    assert run.document("p1000/file/src/deploy.py").content_type == "PLAIN_TEXT"


def test_binary_files_of_a_type_q_business_reads_keep_their_type(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    world.projects[HANDBOOK].commit({"docs/policy.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"})
    assert harness.run().document("p1000/file/docs/policy.pdf").content_type == "PDF"


def test_unchanged_second_run_uploads_nothing_and_downloads_nothing(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    downloads = _raw_downloads(world)
    notes = world.calls["projects/*/issues/*/notes"]
    report = harness.run().report
    assert (report.added, report.updated, report.deleted, report.failed) == (0, 0, 0, 0)
    assert _raw_downloads(world) == downloads
    assert world.calls["projects/*/issues/*/notes"] == notes


def test_a_changed_issue_reuploads_only_that_issue(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    issue = world.projects[HANDBOOK].issues[1]
    issue.title, issue.updated = "Deploy runbook rewritten", 100
    report = harness.run().report
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    doc = harness.run().document("p1000/issue/1")
    assert doc.title.startswith("Deploy runbook rewritten")


def test_a_new_comment_reaches_the_issue_document(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    issue = world.projects[HANDBOOK].issues[1]
    issue.notes.append(
        {
            "id": 9,
            "body": "Rollback verified on staging.",
            "author": {"username": "carol"},
            "created_at": stamp(101),
            "system": False,
        }
    )
    issue.updated = 101
    run = harness.run()
    assert run.report.updated == 1
    assert "Rollback verified on staging." in run.document("p1000/issue/1").text


def test_a_file_deleted_between_runs_is_deleted_from_the_index(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    world.projects[HANDBOOK].commit({"docs/onboarding.md": None})
    run = harness.run()
    assert run.report.deleted == 1
    assert "p1000/file/docs/onboarding.md" not in run.document_ids()


def test_an_incremental_run_downloads_only_the_changed_file(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    before = _raw_downloads(world)
    tree_listings = world.calls["projects/*/repository/tree"]
    world.projects[HANDBOOK].commit({"src/deploy.py": b"def deploy():\n    return 'blue green'\n"})
    run = harness.run()
    assert run.report.updated == 1
    assert _raw_downloads(world) - before == 1
    assert world.calls["projects/*/repository/tree"] == tree_listings  # the compare API, not the tree
    assert "blue green" in run.document("p1000/file/src/deploy.py").text


def test_a_renamed_file_moves_in_the_index(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    project = world.projects[HANDBOOK]
    content = project.head()[1]["docs/onboarding.md"]
    project.commit({"docs/onboarding.md": None, "docs/first-day.md": content})
    ids = harness.run().document_ids()
    assert "p1000/file/docs/first-day.md" in ids
    assert "p1000/file/docs/onboarding.md" not in ids


def test_a_readme_change_updates_the_overview(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    world.projects[HANDBOOK].commit({"README.md": b"# Handbook\n\nNow with a glossary.\n"})
    run = harness.run()
    assert "Now with a glossary." in run.document("p1000/overview").text


def test_a_deleted_readme_falls_back_to_another_readme_as_a_full_pass_would(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    project = world.projects[HANDBOOK]
    project.commit({"README.txt": b"Plain README kept for old tools.\n"})
    harness.run()
    project.commit({"README.md": None})
    run = harness.run()
    assert "Plain README kept for old tools." in run.document("p1000/overview").text
    assert "p1000/file/README.md" not in run.document_ids()


def test_switched_off_features_are_not_listed(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    for project in world.projects.values():
        original = project.as_json
        project.as_json = lambda original=original: {  # type: ignore[method-assign]
            **original(),
            "wiki_access_level": "disabled",
        }
    run = harness.run()
    assert "p1000/wiki/home" not in run.document_ids()
    assert world.calls["projects/*/wikis"] == 0
    assert run.report.failed == 0


def test_a_moved_issue_is_deleted(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    issue = world.projects[HANDBOOK].issues[1]
    issue.state, issue.moved_to_id, issue.updated = "closed", 424242, 200
    run = harness.run()
    assert "p1000/issue/1" not in run.document_ids()


def test_a_deleted_issue_is_found_by_its_count_and_deleted(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    del world.projects[HANDBOOK].issues[2]
    run = harness.run()
    assert run.report.deleted == 1
    assert "p1000/issue/2" not in run.document_ids()
    assert "p1000/issue/1" in run.document_ids()


def test_a_deleted_wiki_page_and_release_are_deleted(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    world.projects[HANDBOOK].wikis.clear()
    world.projects[HANDBOOK].releases.clear()
    ids = harness.run().document_ids()
    assert "p1000/wiki/home" not in ids
    assert "p1000/release/v1.0" not in ids


def test_a_project_that_left_the_scope_is_deleted(harness: ConnectorHarness, config: dict[str, Any]) -> None:
    harness.run()
    run = harness.run(config={**config, "exclude_projects": ["acme/platform/"]})
    assert not any(doc_id.startswith(("p1001/", "p1002/")) for doc_id in run.document_ids())
    assert "p1000/overview" in run.document_ids()


def test_a_new_project_in_scope_is_listed_completely(
    harness: ConnectorHarness, world: FakeGitLabState
) -> None:
    harness.run()
    fresh = world.add_project("acme", "fresh", visibility="public")
    fresh.commit({"README.md": b"# Fresh\n", "guide.md": b"A new guide.\n"})
    fresh.issues[1] = Item(1, "First issue", created=300, updated=300)
    ids = harness.run().document_ids()
    assert {"p1004/overview", "p1004/file/guide.md", "p1004/issue/1"} <= set(ids)


def test_a_rewritten_branch_lists_the_whole_tree(harness: ConnectorHarness, world: FakeGitLabState) -> None:
    harness.run()
    project = world.projects[HANDBOOK]
    tree = dict(project.head()[1])
    del tree["docs/onboarding.md"]
    project.commits = []  # a force push: the indexed commit no longer exists
    project.commit(tree)
    ids = harness.run().document_ids()
    assert "p1000/file/docs/onboarding.md" not in ids
    assert "p1000/file/README.md" in ids


def test_files_over_the_size_cap_are_skipped_and_removed(
    harness: ConnectorHarness, world: FakeGitLabState, config: dict[str, Any]
) -> None:
    capped = {**config, "max_file_bytes": 1000}
    assert "p1000/file/docs/onboarding.md" in harness.run(config=capped).document_ids()
    world.projects[HANDBOOK].commit({"docs/onboarding.md": b"x" * 5000, "docs/big.md": b"y" * 5000})
    ids = harness.run(config=capped).document_ids()  # incremental: the size comes from a HEAD request
    assert "p1000/file/docs/onboarding.md" not in ids
    assert "p1000/file/docs/big.md" not in ids
    ids = harness.run(config=capped, full=True).document_ids()  # full: the download stops at the cap
    assert "p1000/file/docs/big.md" not in ids
    assert "p1000/file/README.md" in ids


def test_include_limits_the_kinds(harness: ConnectorHarness, config: dict[str, Any]) -> None:
    run = harness.run(config={**config, "include": ["issues", "overview"]})
    kinds = {doc_id.split("/")[1] for doc_id in run.document_ids()}
    assert kinds == {"issue", "overview"}
    assert "Welcome to the acme handbook." in run.document("p1000/overview").text


def test_every_nth_run_is_a_full_pass(
    harness: ConnectorHarness, world: FakeGitLabState, config: dict[str, Any]
) -> None:
    settings = {**config, "full_sync_every": 2}
    harness.run(config=settings)  # the first run is a full pass
    listings = world.calls["projects/*/repository/tree"]
    harness.run(config=settings)  # the second is incremental: the compare API, no tree
    assert world.calls["projects/*/repository/tree"] == listings
    harness.run(config=settings)  # the third is a full pass again: every tree is listed
    assert world.calls["projects/*/repository/tree"] > listings


def _snapshot(harness: ConnectorHarness) -> dict[str, tuple[Any, ...]]:
    run = harness.run(dry_run=True)
    return {
        doc.id: (
            doc.title,
            doc.source_uri,
            doc.content_type,
            doc.created_at,
            doc.last_updated_at,
            doc.attributes,
            doc.acl,
            doc.text,
            doc.size,
        )
        for doc in run.documents()
    }


def test_a_chain_of_incremental_runs_equals_one_full_pass(
    world: FakeGitLabState, fake: FakeGitLab, config: dict[str, Any], tmp_path: Path
) -> None:
    """Same ids and the same content, whichever way the index got there."""
    with ConnectorHarness(GitLabConnector, config, directory=tmp_path / "chain") as chain:
        chain.run()
        handbook, secret = world.projects[HANDBOOK], world.projects[SECRET]
        handbook.issues[1].title, handbook.issues[1].updated = "Runbook v2", 500
        handbook.commit({"docs/onboarding.md": None, "docs/laptops.md": b"Laptops arrive on day one.\n"})
        chain.run()
        secret.issues[2] = Item(2, "Budget review", "Numbers inside.", created=510, updated=510)
        del handbook.issues[2]
        secret.members[5] = 20  # eve becomes a Reporter: every secret document's ACL changes
        world.projects[TOOLS].commit({"README.md": b"# Tools\n\nNow with a CLI.\n"})
        chain.run()
        handbook.wikis["faq"] = ("FAQ", "Frequently asked questions.")
        handbook.merge_requests[2] = Item(2, "Add FAQ", state="opened", created=520, updated=520)
        chain.run()
        incremental = _snapshot(chain)
    with ConnectorHarness(GitLabConnector, config, directory=tmp_path / "full") as full:
        full.run()
        complete = _snapshot(full)
    assert incremental == complete
    assert "p1001/issue/2" in complete and "p1000/issue/2" not in complete
    created, updated = complete["p1002/file/README.md"][3:5]  # a file's dates are part of the match
    assert created is not None and updated is not None and created < updated


def test_plugin_is_conformant(config: dict[str, Any]) -> None:
    assert_conformant(GitLabConnector, sample_config=config)
