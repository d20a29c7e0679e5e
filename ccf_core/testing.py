"""Helpers for testing a connector: run it against a temporary local index and state.

Import these in a plugin's own tests::

    from ccf_core.testing import ConnectorHarness, assert_conformant

    def test_indexes_my_documents(tmp_path):
        harness = ConnectorHarness(MyConnector, {"path": "docs"}, directory=tmp_path)
        run = harness.run()
        assert run.report.failed == 0
        assert run.document("docs/a.md").title == "A"

    def test_plugin_is_conformant():
        assert_conformant(MyConnector, sample_config={"path": "docs"})
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ccf_core.connector import Connector, SyncMode
from ccf_core.destinations.local_index import LocalIndex, SearchHit, StoredDocument
from ccf_core.engine import SyncEngine, SyncOptions
from ccf_core.hookspecs import PROJECT_NAME
from ccf_core.plugins import connector_registry
from ccf_core.report import SyncReport
from ccf_core.state.sqlite import SqliteStateStore

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


@dataclass
class ConnectorRun:
    """The outcome of one harness run: the report, and the index to look into."""

    report: SyncReport
    index: LocalIndex
    state: SqliteStateStore

    def documents(self) -> list[StoredDocument]:
        """Every document in the index, ordered by id."""
        return self.index.list_documents()

    def document_ids(self) -> list[str]:
        """The ids in the index, ordered."""
        return [doc.id for doc in self.index.list_documents()]

    def document(self, document_id: str) -> StoredDocument:
        """The stored document; ``AssertionError`` naming the ids present when it is missing."""
        found = self.index.get(document_id)
        if found is None:
            present = ", ".join(self.document_ids()[:20]) or "none"
            raise AssertionError(f"document {document_id!r} is not in the index (present: {present})")
        return found

    def search(self, query: str, *, user: str | None = None, groups: Iterable[str] = ()) -> list[SearchHit]:
        """Search the index as ``user`` / ``groups`` (no identity: every document)."""
        return self.index.search(query, user=user, groups=groups)


class ConnectorHarness:
    """Runs a connector repeatedly against one temporary local index and state.

    Args:
        connector: a Connector class, or the name of an installed connector.
        config: the raw settings, validated by the connector's ``Config`` model.
        directory: where the index and state files go (default: a new temporary folder).
        options: engine options for every run (``run()`` may override some).
    """

    def __init__(
        self,
        connector: type[Connector] | str,
        config: Mapping[str, Any] | None = None,
        *,
        directory: str | Path | None = None,
        options: SyncOptions | None = None,
    ) -> None:
        self.connector_class = (
            connector_registry().get(connector).connector_class if isinstance(connector, str) else connector
        )
        self.config = dict(config or {})
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="ccf-"))
        self.options = options or SyncOptions()
        self.index = LocalIndex(self.directory / "index.db")
        self.state = SqliteStateStore(self.directory / "state.db")

    def run(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        full: bool | None = None,
        dry_run: bool | None = None,
        allow_mass_delete: bool | None = None,
    ) -> ConnectorRun:
        """Run the connector once (with ``config`` replacing the harness's, if given)."""
        connector = self.connector_class.from_config(config if config is not None else self.config)
        overrides = {
            key: value
            for key, value in {
                "full": full,
                "dry_run": dry_run,
                "allow_mass_delete": allow_mass_delete,
            }.items()
            if value is not None
        }
        options = SyncOptions(**{**self.options.__dict__, **overrides})
        report = SyncEngine(self.index, self.state, options).run(connector)
        return ConnectorRun(report, self.index, self.state)

    def close(self) -> None:
        """Close the index and state files."""
        self.index.shutdown()
        self.state.close()

    def __enter__(self) -> ConnectorHarness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_connector(
    connector: type[Connector] | str,
    config: Mapping[str, Any] | None = None,
    *,
    directory: str | Path | None = None,
    **options: Any,
) -> ConnectorRun:
    """Run a connector once against a fresh temporary index; ``options`` go to :class:`SyncOptions`."""
    harness = ConnectorHarness(connector, config, directory=directory, options=SyncOptions(**options))
    return harness.run()


def conformance_problems(
    connector: type[Connector],
    *,
    sample_config: Mapping[str, Any] | None = None,
    require_entry_point: bool = True,
) -> list[str]:
    """Everything about a connector that breaks ccf's plugin conventions (empty when conformant).

    Checks: the name is a lowercase word; the sync mode is valid; the ``Config`` model forbids
    unknown fields; an entry point of the ``ccf`` group carries the connector's name (when
    ``require_entry_point``); and, given ``sample_config``, a run produces only valid documents.
    """
    problems: list[str] = []
    name = getattr(connector, "name", "")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append(f"name {name!r}: must be a lowercase word ([a-z0-9][a-z0-9_-]*)")
    if not isinstance(getattr(connector, "sync_mode", None), SyncMode):
        problems.append("sync_mode: must be SyncMode.FULL or SyncMode.INCREMENTAL")
    if connector.Config.model_config.get("extra") != "forbid":
        problems.append(
            f"{connector.Config.__qualname__}: set model_config = ConfigDict(extra='forbid') so "
            "misspelled settings are reported"
        )
    if require_entry_point:
        names = {ep.name: ep.value for ep in entry_points(group=PROJECT_NAME)}
        if name not in names:
            problems.append(
                f"entry point: no '{PROJECT_NAME}' entry point named {name!r}; add "
                f'[project.entry-points.{PROJECT_NAME}] {name} = "your_package.plugin" to pyproject.toml '
                "(the entry-point name must equal the connector name)"
            )
    if sample_config is not None:
        with (
            tempfile.TemporaryDirectory(prefix="ccf-conformance-") as directory,
            ConnectorHarness(
                connector, sample_config, directory=directory, options=SyncOptions(error_budget=1.0)
            ) as harness,
        ):
            report = harness.run().report
        for failure in report.failures:
            if failure.reason == "invalid_document":
                problems.append(f"documents: {failure.message}")
        if report.error:
            problems.append(f"run: {report.error}")
        if report.scanned == 0:
            problems.append("documents: the sample config produced no documents")
    return problems


def assert_conformant(
    connector: type[Connector],
    *,
    sample_config: Mapping[str, Any] | None = None,
    require_entry_point: bool = True,
) -> None:
    """Raise ``AssertionError`` listing every convention the connector breaks."""
    problems = conformance_problems(
        connector, sample_config=sample_config, require_entry_point=require_entry_point
    )
    if problems:
        raise AssertionError(f"{connector.__qualname__} is not conformant:\n" + "\n".join(problems))
