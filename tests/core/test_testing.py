"""``ccf_core.testing``: a failed run fails the test, relative paths, and the folder conformance check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from ccf_core import Connector, Document, DocumentFile, DocumentMetadata, SyncContext
from ccf_core.testing import (
    ConnectorHarness,
    ConnectorRunFailed,
    conformance_problems,
    folder_escape_problems,
    run_connector,
)


class FolderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path


class Naive(Connector):
    """Indexes every file under ``path``, following links wherever they go (what not to do)."""

    name = "naive"
    Config = FolderConfig
    config: FolderConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        if not self.config.path.is_dir():
            raise FileNotFoundError(f"no folder {self.config.path}")
        for path in sorted(self.config.path.rglob("*")):
            if path.is_file():
                yield Document(
                    id=path.relative_to(self.config.path).as_posix(),
                    file=DocumentFile(path),
                    metadata=DocumentMetadata(title=path.name),
                )


class Careful(Naive):
    """The same, skipping whatever resolves outside the folder."""

    name = "careful"

    def documents(self, context: SyncContext) -> Iterator[Document]:
        root = self.config.path.resolve()
        for document in super().documents(context):
            assert document.file is not None
            if document.file.path.resolve().is_relative_to(root):
                yield document


def test_failed_run_raises_with_the_runs_error(tmp_path: Path) -> None:
    with (
        ConnectorHarness(Naive, {"path": "missing"}, directory=tmp_path) as harness,
        pytest.raises(ConnectorRunFailed, match="no folder"),
    ):
        harness.run()


def test_failed_run_is_returned_when_asked_for(tmp_path: Path) -> None:
    with ConnectorHarness(Naive, {"path": "missing"}, directory=tmp_path) as harness:
        run = harness.run(check=False)
        assert not run.ok
        with pytest.raises(AssertionError, match="ended failed"):
            run.assert_succeeded()


def test_run_connector_raises_for_a_failed_run(tmp_path: Path) -> None:
    with pytest.raises(ConnectorRunFailed):
        run_connector(Naive, {"path": "missing"}, directory=tmp_path)


def test_relative_config_path_resolves_against_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work" / "docs").mkdir(parents=True)
    (tmp_path / "work" / "docs" / "a.txt").write_text("a", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a "docs" folder here would be the wrong one
    with ConnectorHarness(Naive, {"path": "docs"}, directory=tmp_path / "work") as harness:
        run = harness.run()
        assert run.ok
        assert run.document_ids() == ["a.txt"]


def test_folder_check_finds_a_connector_that_follows_links_out() -> None:
    problems = folder_escape_problems(Naive, "path")
    assert problems
    assert any("comes from outside 'path' through a symbolic link" in problem for problem in problems)


def test_folder_check_passes_a_connector_that_stays_inside() -> None:
    assert folder_escape_problems(Careful, "path") == []


def test_conformance_includes_the_folder_check() -> None:
    problems = conformance_problems(Naive, require_entry_point=False, folder_setting="path")
    assert any(problem.startswith("folder:") for problem in problems)


def test_harness_takes_a_plain_string_sync_mode(tmp_path: Path) -> None:
    class Stringly(Naive):
        name = "stringly"
        sync_mode = "incremental"  # type: ignore[assignment]

    (tmp_path / "docs").mkdir()
    with ConnectorHarness(Stringly, {"path": "docs"}, directory=tmp_path) as harness:
        assert harness.run().report.mode == "incremental"


def test_harness_refuses_a_class_registration_would_refuse(tmp_path: Path) -> None:
    class NoDocuments(Connector):
        name = "no-documents"

    with pytest.raises(AssertionError, match=r"does not implement documents\(self, context\)"):
        ConnectorHarness(NoDocuments, directory=tmp_path)
