"""Tests of the hello connector, written the way a plugin author tests with ccf_core.testing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccf_core.testing import ConnectorHarness, ConnectorRunFailed, assert_conformant
from ccf_hello import HelloConnector

SAMPLE = Path(__file__).resolve().parents[1] / "sample-docs"
CONFIG = {
    "path": str(SAMPLE),
    "restricted": {"engineering": "engineers"},
    "members": {"engineers": ["alice@example.com"]},
}


@pytest.fixture
def harness(tmp_path: Path) -> ConnectorHarness:
    with ConnectorHarness(HelloConnector, CONFIG, directory=tmp_path) as harness:
        yield harness


def test_every_matching_file_is_indexed(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert run.report.failed == 0
    assert run.document_ids() == [
        "engineering/deploys.md",
        "engineering/incident-2026-03.html",
        "faq.txt",
        "handbook/holidays.md",
        "handbook/welcome.md",
    ]


def test_title_comes_from_the_first_markdown_heading(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert run.document("handbook/holidays.md").title == "Holiday policy"


def test_restricted_folder_is_hidden_from_other_users(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert [hit.id for hit in run.search("deploy", user="alice@example.com")] == ["engineering/deploys.md"]
    assert run.search("deploy", user="bob@example.com") == []


def test_public_files_are_visible_to_everyone(harness: ConnectorHarness) -> None:
    run = harness.run()
    assert {hit.id for hit in run.search("coffee", user="bob@example.com")} == {
        "faq.txt",
        "handbook/welcome.md",
    }


def test_second_run_uploads_nothing(harness: ConnectorHarness) -> None:
    harness.run()
    report = harness.run().report
    assert (report.unchanged, report.uploaded) == (5, 0)


def test_missing_folder_fails_the_run_with_the_path(harness: ConnectorHarness, tmp_path: Path) -> None:
    run = harness.run(config={"path": str(tmp_path / "nowhere")}, check=False)
    assert not run.ok
    assert run.report.status == "failed"
    assert "nowhere" in (run.report.error or "")


def test_a_failed_run_fails_the_test_unless_asked_for(harness: ConnectorHarness, tmp_path: Path) -> None:
    with pytest.raises(ConnectorRunFailed, match="nowhere"):
        harness.run(config={"path": str(tmp_path / "nowhere")})


def test_relative_path_is_relative_to_the_harness_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "intro.md").write_text("# Introduction\n", encoding="utf-8")
    with ConnectorHarness(HelloConnector, {"path": "docs"}, directory=tmp_path) as harness:
        run = harness.run()
        run.assert_succeeded()
        assert run.document_ids() == ["intro.md"]


def test_symbolic_link_out_of_the_folder_is_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "inside.md").write_text("# Inside\n", encoding="utf-8")
    (tmp_path / "passwd.txt").write_text("root:x:0:0\n", encoding="utf-8")
    (tmp_path / "docs" / "passwd.txt").symlink_to(tmp_path / "passwd.txt")
    with ConnectorHarness(HelloConnector, {"path": "docs"}, directory=tmp_path) as harness:
        assert harness.run().document_ids() == ["inside.md"]
    assert "skipped passwd.txt: it is a symbolic link to" in caplog.text


def test_symbolic_link_inside_the_folder_is_indexed(tmp_path: Path) -> None:
    (tmp_path / "docs" / "real").mkdir(parents=True)
    (tmp_path / "docs" / "real" / "page.md").write_text("# Page\n", encoding="utf-8")
    (tmp_path / "docs" / "alias.md").symlink_to(tmp_path / "docs" / "real" / "page.md")
    with ConnectorHarness(HelloConnector, {"path": "docs"}, directory=tmp_path) as harness:
        assert harness.run().document_ids() == ["alias.md", "real/page.md"]


def test_plugin_is_conformant() -> None:
    assert_conformant(HelloConnector, sample_config=CONFIG, folder_setting="path")
