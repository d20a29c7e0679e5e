"""Helpers for testing a connector: run it against a temporary local index and state.

Import these in a plugin's own tests::

    from ccf_core.testing import ConnectorHarness, assert_conformant

    def test_indexes_my_documents(tmp_path):
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.md").write_text("# A")
        with ConnectorHarness(MyConnector, {"path": "docs"}, directory=tmp_path) as harness:
            run = harness.run()              # raises ConnectorRunFailed if the run failed
            run.assert_succeeded()           # stricter: no rejected document either
            assert run.document("a.md").title == "A"

    def test_plugin_is_conformant():
        assert_conformant(MyConnector, sample_config={"path": "docs"}, folder_setting="path")

A run whose status is ``failed`` or ``stopped`` raises :class:`ConnectorRunFailed` (an
``AssertionError``, so the test fails with the run's error); a test that expects the failure passes
``check=False`` and looks at ``run.ok`` / ``run.report``. Relative paths in the config (fields typed
``Path``) resolve against the harness's ``directory``, not the working directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel, ValidationError

from ccf_core.connector import Connector, SyncMode, validation_problems
from ccf_core.destinations.local_index import LocalIndex, StoredDocument
from ccf_core.destinations.local_search import SearchHit
from ccf_core.engine import SyncEngine, SyncOptions
from ccf_core.errors import ConnectorConfigError
from ccf_core.hookspecs import PROJECT_NAME
from ccf_core.models.acl import Group
from ccf_core.plugins import connector_registry
from ccf_core.ports import BatchLimits, BatchResult, PreparedDocument, RunInfo
from ccf_core.registry import CONNECTOR_NAME_PATTERN, connector_class_problems
from ccf_core.report import RunStatus, SyncReport
from ccf_core.state.sqlite import SqliteStateStore

#: Written into the files a folder conformance check puts outside the configured folder.
OUTSIDE_MARKER = "ccf-conformance-outside-the-folder"


class AcceptingDestination:
    """A destination that accepts everything at once and keeps nothing but a count of its calls.

    For benchmarks and tests of what comes before the destination (a connector, a state store,
    the engine itself): every document, deletion and group is accepted.
    """

    name = "accepting"

    def __init__(self, limits: BatchLimits | None = None) -> None:
        self.limits = limits or BatchLimits()
        self.calls = 0

    def open(self, run: RunInfo) -> None:
        """Nothing to open."""

    def close(self, status: RunStatus) -> None:
        """Nothing to close."""

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        """Accept the batch."""
        self.calls += 1
        return BatchResult(accepted=[prepared.id for prepared in batch])

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        """Accept the deletions."""
        self.calls += 1
        return BatchResult(accepted=list(document_ids))

    def put_groups(self, groups: Sequence[Group]) -> BatchResult:
        """Accept the groups."""
        self.calls += 1
        return BatchResult(accepted=[group.name for group in groups])

    def delete_groups(self, names: Sequence[str]) -> BatchResult:
        """Accept the group deletions."""
        self.calls += 1
        return BatchResult(accepted=list(names))


class ConnectorRunFailed(AssertionError):
    """A harness run ended ``failed`` or ``stopped`` and the test did not ask for that (``check=False``)."""


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

    @property
    def ok(self) -> bool:
        """True when the run succeeded: it completed and no document was rejected."""
        return self.report.status is RunStatus.SUCCEEDED

    def assert_succeeded(self) -> None:
        """Raise ``AssertionError`` with the run's error and rejected documents unless it succeeded."""
        if not self.ok:
            raise ConnectorRunFailed(_failure_text(self.report))


def _failure_text(report: SyncReport) -> str:
    lines = [f"the run of {report.connector} ended {report.status.value}"]
    if report.error:
        lines.append(f"error: {report.error}")
    lines += [f"rejected {failure.document_id}: {failure.message}" for failure in report.failures[:20]]
    return "\n".join(lines)


class ConnectorHarness:
    """Runs a connector repeatedly against one temporary local index and state.

    Args:
        connector: a Connector class, or the name of an installed connector.
        config: the raw settings, validated by the connector's ``Config`` model; relative paths
            in fields typed ``Path`` resolve against ``directory``.
        directory: where the index and state files go, and what relative config paths are
            relative to (default: a new temporary folder).
        options: engine options for every run (``run()`` may override some).
        paths_relative_to: resolve relative config paths against this folder instead.
    """

    def __init__(
        self,
        connector: type[Connector] | str,
        config: Mapping[str, Any] | None = None,
        *,
        directory: str | Path | None = None,
        options: SyncOptions | None = None,
        paths_relative_to: str | Path | None = None,
    ) -> None:
        if isinstance(connector, str):
            self.connector_class = connector_registry().get(connector).connector_class
        else:
            # The checks registration makes, so a test fails the way `ccf-run --list` would.
            problems = connector_class_problems(connector)
            if problems:
                raise AssertionError(f"{connector!r} is not a usable connector class: " + "; ".join(problems))
            connector.sync_mode = SyncMode(connector.sync_mode)
            self.connector_class = connector
        self.config = dict(config or {})
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="ccf-"))
        self.options = options or SyncOptions()
        self.paths_relative_to = Path(paths_relative_to) if paths_relative_to is not None else self.directory
        self.index = LocalIndex(self.directory / "index.db")
        self.state = SqliteStateStore(self.directory / "state.db")

    def run(
        self,
        *,
        config: Mapping[str, Any] | None = None,
        full: bool | None = None,
        dry_run: bool | None = None,
        allow_mass_delete: bool | None = None,
        check: bool = True,
    ) -> ConnectorRun:
        """Run the connector once (with ``config`` replacing the harness's, if given).

        Raises:
            ConnectorRunFailed: when the run ended ``failed`` or ``stopped`` and ``check`` is
                true (the default); pass ``check=False`` to look at a failed run's report.
        """
        connector = self._connector(config if config is not None else self.config)
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
        if check and report.status in (RunStatus.FAILED, RunStatus.STOPPED):
            raise ConnectorRunFailed(_failure_text(report) + "\n(pass check=False to expect a failed run)")
        return ConnectorRun(report, self.index, self.state)

    def _connector(self, raw: Mapping[str, Any]) -> Connector:
        """The connector built from ``raw`` with its relative paths resolved against ``directory``."""
        cls = self.connector_class
        try:
            config = cls.Config.model_validate(dict(raw))
        except ValidationError as err:
            raise ConnectorConfigError(cls.name, validation_problems(err)) from None
        return cls(_resolve_paths(config, self.paths_relative_to))

    def close(self) -> None:
        """Close the index and state files."""
        self.index.shutdown()
        self.state.close()

    def __enter__(self) -> ConnectorHarness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _resolve_paths(config: BaseModel, directory: Path) -> BaseModel:
    """``config`` with each relative ``Path`` value (nested models too) made relative to ``directory``."""
    updates: dict[str, Any] = {}
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, PurePath) and not value.is_absolute():
            updates[name] = type(value)(directory / value)
        elif isinstance(value, BaseModel):
            updates[name] = _resolve_paths(value, directory)
    return config.model_copy(update=updates) if updates else config


def run_connector(
    connector: type[Connector] | str,
    config: Mapping[str, Any] | None = None,
    *,
    directory: str | Path | None = None,
    **options: Any,
) -> ConnectorRun:
    """Run a connector once against a fresh temporary index; ``options`` go to :class:`SyncOptions`.

    Raises:
        ConnectorRunFailed: when the run ended ``failed`` or ``stopped``.
    """
    harness = ConnectorHarness(connector, config, directory=directory, options=SyncOptions(**options))
    return harness.run()


def conformance_problems(
    connector: type[Connector],
    *,
    sample_config: Mapping[str, Any] | None = None,
    require_entry_point: bool = True,
    folder_setting: str | None = None,
) -> list[str]:
    """Everything about a connector that breaks ccf's plugin conventions (empty when conformant).

    Checks: the name is a lowercase word; the sync mode is valid; the ``Config`` model forbids
    unknown fields; an entry point of the ``ccf`` group carries the connector's name (when
    ``require_entry_point``); given ``sample_config`` (relative paths are relative to the working
    directory), a run produces only valid documents; given ``folder_setting`` (the setting that
    names a folder to read), nothing outside that folder is indexed through a symbolic link.
    """
    problems: list[str] = []
    name = getattr(connector, "name", "")
    if not isinstance(name, str) or not CONNECTOR_NAME_PATTERN.match(name):
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
        report = _trial_run(connector, sample_config, Path.cwd())
        for failure in report.failures:
            if failure.reason == "invalid_document":
                problems.append(f"documents: {failure.message}")
        if report.error:
            problems.append(f"run: {report.error}")
        if report.scanned == 0:
            problems.append("documents: the sample config produced no documents")
    if folder_setting is not None:
        problems += folder_escape_problems(connector, folder_setting, sample_config or {})
    return problems


def _trial_run(connector: type[Connector], config: Mapping[str, Any], paths: Path) -> SyncReport:
    with (
        tempfile.TemporaryDirectory(prefix="ccf-conformance-") as directory,
        ConnectorHarness(
            connector,
            config,
            directory=directory,
            options=SyncOptions(error_budget=1.0),
            paths_relative_to=paths,
        ) as harness,
    ):
        return harness.run(check=False).report


def folder_escape_problems(
    connector: type[Connector], folder_setting: str, base_config: Mapping[str, Any] | None = None
) -> list[str]:
    """Problems when a connector reading a folder indexes files outside it through symbolic links.

    Builds a folder with ordinary files and with links (to a file and to a folder) pointing
    outside it, sets ``folder_setting`` to that folder (on top of ``base_config``), runs the
    connector and reports every document whose id or text comes from outside. The files use
    the extensions ``.md``, ``.txt`` and ``.html``.
    """
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ccf-folder-check-") as scratch:
        root = Path(scratch)
        outside, folder = root / "outside", root / "folder"
        (outside / "dir").mkdir(parents=True)
        (folder / "sub").mkdir(parents=True)
        for extension in ("md", "txt", "html"):
            (outside / f"secret.{extension}").write_text(f"{OUTSIDE_MARKER}\n", encoding="utf-8")
            (outside / "dir" / f"nested.{extension}").write_text(f"{OUTSIDE_MARKER}\n", encoding="utf-8")
            (folder / f"inside.{extension}").write_text("inside the folder\n", encoding="utf-8")
            (folder / f"link.{extension}").symlink_to(outside / f"secret.{extension}")
        (folder / "sub" / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
        config = {**(base_config or {}), folder_setting: str(folder)}
        with (
            tempfile.TemporaryDirectory(prefix="ccf-conformance-") as directory,
            ConnectorHarness(connector, config, directory=directory) as harness,
        ):
            run = harness.run(check=False)
            if run.report.error:
                problems.append(f"folder: a folder with symbolic links made the run fail: {run.report.error}")
            for document in run.documents():
                if "link" in document.id or OUTSIDE_MARKER in (document.text or ""):
                    problems.append(
                        f"folder: document {document.id!r} comes from outside {folder_setting!r} through a "
                        "symbolic link; resolve each path and skip it unless it stays inside the folder"
                    )
    return problems


def assert_conformant(
    connector: type[Connector],
    *,
    sample_config: Mapping[str, Any] | None = None,
    require_entry_point: bool = True,
    folder_setting: str | None = None,
) -> None:
    """Raise ``AssertionError`` listing every convention the connector breaks.

    See :func:`conformance_problems` for the checks and the arguments.
    """
    problems = conformance_problems(
        connector,
        sample_config=sample_config,
        require_entry_point=require_entry_point,
        folder_setting=folder_setting,
    )
    if problems:
        raise AssertionError(f"{connector.__qualname__} is not conformant:\n" + "\n".join(problems))
