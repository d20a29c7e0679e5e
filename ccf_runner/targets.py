"""Where a run writes: the destination (local index or Amazon Q Business) and the state store.

The choice is made from the options alone, before anything is opened, so the runner can say on its
first line where documents and state will go. That line uses the words the opened stores use in
their own ``describe()`` (a test keeps the two the same).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccf_core.errors import CCFError, DestinationNotFoundError
from ccf_core.plugins import destination_registry
from ccf_core.ports import BatchLimits, Destination, StateStore
from ccf_core.report import SyncReport
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner.errors import BadConfiguration

logger = logging.getLogger(__name__)

#: Where ``ccf-run`` keeps the local index and the state unless told otherwise (``ccf`` reads them there).
DEFAULT_INDEX = ".ccf/index.db"
DEFAULT_STATE = ".ccf/state.db"

#: The ``--state`` value that will keep state in the CCF API once the backend exists.
STATE_API = "api"

#: Each Q Business id: its option, its environment variable, and the destination's keyword.
QBUSINESS_IDS = (
    ("--qbusiness-app-id", "Q_BUSINESS_APP_ID", "application_id"),
    ("--qbusiness-index-id", "Q_BUSINESS_INDEX_ID", "index_id"),
    ("--qbusiness-data-source-id", "Q_BUSINESS_DATA_SOURCE_ID", "data_source_id"),
)


@dataclass(frozen=True)
class DestinationChoice:
    """A destination to create: its registered name, the factory's options and a description."""

    name: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)

    def create(self, *, dry_run: bool = False) -> Destination:
        """Build the destination through the destination registry.

        A dry run of the local index that does not exist yet gets a stand-in instead, so that
        a dry run creates no file: it would add everything, and writes nothing.

        Raises:
            BadConfiguration: when no plugin registered it (e.g. ``qbusiness`` is not installed).
        """
        if dry_run and self.name == "local" and not Path(self.options["path"]).exists():
            return MissingLocalIndex(Path(self.options["path"]))
        try:
            return destination_registry().create(self.name, **self.options)
        except DestinationNotFoundError as err:
            raise BadConfiguration(f"destination {self.name!r} is not available: {err}") from err
        except (CCFError, TypeError, OSError, sqlite3.Error) as err:
            raise BadConfiguration(f"cannot set up destination {self.description}: {err}") from err


class MissingLocalIndex:
    """A local index that does not exist yet, standing in for one during a dry run.

    It has the name and identity the real index will have (so the state is read under the same
    scope) and refuses every write: a dry run never writes.
    """

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity = f"local:{path.resolve()}"
        self.limits = BatchLimits()

    def describe(self) -> str:
        """Where the index will be."""
        return f"local index {self.path} (does not exist yet)"

    def _refuse(self, *args: object) -> Any:
        raise CCFError("a dry run writes nothing to the local index")

    open = put_documents = delete_documents = put_groups = delete_groups = close = _refuse


def choose_destination(
    index: str | os.PathLike[str],
    application_id: str | None = None,
    index_id: str | None = None,
    data_source_id: str | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> DestinationChoice:
    """Amazon Q Business when all three ids are given, the local index at ``index`` when none is.

    ``extra`` holds the Q Business destination's other options (endpoint_url, s3_bucket, role_arn,
    max_in_flight); they are ignored for the local index.

    Raises:
        BadConfiguration: when some ids are given but not all, naming the missing ones.
    """
    values = (application_id, index_id, data_source_id)
    given = {keyword: value for (_, _, keyword), value in zip(QBUSINESS_IDS, values, strict=True) if value}
    if not given:
        return DestinationChoice("local", f"local index {index}", {"path": Path(index)})
    missing = [
        f"{option} (or {variable})" for (option, variable, keyword) in QBUSINESS_IDS if keyword not in given
    ]
    if missing:
        raise BadConfiguration(
            "Amazon Q Business needs an application, an index and a data source id; missing: "
            + ", ".join(missing)
            + ". Give all three, or none to use the local index"
        )
    description = (
        f"Amazon Q Business application {application_id} index {index_id} data source {data_source_id}"
    )
    return DestinationChoice("qbusiness", description, {**given, **(extra or {})})


def _api_settings() -> tuple[str, str]:
    """The CCF API endpoint and backend connector id a job's container is given.

    Raises:
        BadConfiguration: naming the variables that are missing.
    """
    from ccf_core.api.client import CONNECTOR_ID_VARIABLE, ENDPOINT_VARIABLE

    missing = [name for name in (ENDPOINT_VARIABLE, CONNECTOR_ID_VARIABLE) if not os.environ.get(name)]
    if missing:
        raise BadConfiguration(
            f"--state api keeps state in the CCF backend and needs {' and '.join(missing)} "
            f"(the job orchestrator sets them); or use a SQLite file (the default is {DEFAULT_STATE})"
        )
    return os.environ[ENDPOINT_VARIABLE], os.environ[CONNECTOR_ID_VARIABLE]


def describe_state(state: str) -> str:
    """How the first output line names the state store: what the store's ``describe()`` says.

    Raises:
        BadConfiguration: for ``api`` without the CCF API's environment variables.
    """
    if state == STATE_API:
        endpoint, connector_id = _api_settings()
        return f"CCF API state of connector {connector_id} at {endpoint}"
    return f"sqlite state {state}"


def open_state(state: str, *, dry_run: bool = False) -> StateStore:
    """Open the state store: the CCF backend for ``api``, else the SQLite file at ``state``.

    A dry run whose SQLite file does not exist yet reads an empty state in memory instead of
    creating the file.

    Raises:
        BadConfiguration: when the store cannot be opened, or ``api`` has no AWS credentials.
    """
    describe_state(state)
    if state == STATE_API:
        from ccf_core.api.client import CCFClient
        from ccf_core.state.api import ApiStateStore
        from ccf_runner.api_session import api_session

        session = api_session(_api_settings()[0])
        if session.get_credentials() is None:
            raise BadConfiguration(
                "--state api: no AWS credentials found to sign requests to the CCF API; set AWS_PROFILE "
                "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them "
                f"(a backend job's container has one); or keep state in a file (--state {DEFAULT_STATE})"
            )

        try:
            return ApiStateStore(CCFClient.from_environment(session=session))
        except CCFError as err:
            raise BadConfiguration(f"--state api: cannot reach the CCF API: {err}") from err
    if dry_run and not Path(state).exists():
        return SqliteStateStore(":memory:")
    try:
        return SqliteStateStore(state, move=not dry_run)
    except (OSError, sqlite3.Error) as err:
        raise BadConfiguration(f"--state {state}: cannot open the state database: {err}") from err


def report_to_backend(state: StateStore, report: SyncReport) -> None:
    """Send a job's metrics to the CCF API when the run is a backend job (``--state api``)."""
    client = getattr(state, "ccf", None)
    if client is None or getattr(client, "job_id", None) is None:
        return
    try:
        client.report_job_metrics(report)
    except Exception as err:  # the sync itself is done; a lost metric must not fail it
        logger.warning("could not report the job's metrics to the CCF API: %s", err)
