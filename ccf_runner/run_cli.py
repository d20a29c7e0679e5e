"""``ccf-run``: run one connector once, as a person at a terminal or inside the AWS Batch job.

With no Amazon Q Business ids it syncs into the local index and keeps state in a local SQLite
file, both under ``./.ccf/``, and says so on its first line. The text report goes to stdout, logs
to stderr (text on a terminal, JSON lines otherwise), the exit code tells how the run ended.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ccf_core.connector import Connector, validation_problems
from ccf_core.engine import SyncEngine, SyncOptions, state_scope
from ccf_core.errors import ConnectorConfigError
from ccf_core.notes import ListableDestination, load_notes, reconcile_reason
from ccf_core.ports import Destination, StateStore
from ccf_core.report import RunStatus, SyncReport
from ccf_runner import exit_codes
from ccf_runner.connector_errors import guard_connector
from ccf_runner.destinations import DestinationRequest, choose
from ccf_runner.discovery import find_connector
from ccf_runner.errors import BadConfiguration, RunnerError
from ccf_runner.listing import print_config, print_installed
from ccf_runner.logs import RUNNER_LOGGER, LogFormat, configure_logging, log_context, register_secret
from ccf_runner.render import (
    ProgressDisplay,
    is_terminal,
    partial_report,
    partial_report_text,
    report_text,
    write_report_json,
)
from ccf_runner.schema import raw_secret_values, secret_values
from ccf_runner.settings import (
    SettingsError,
    build_config,
    parse_assignment,
    unknown_env_variables,
)
from ccf_runner.signals import cancel_on_signals
from ccf_runner.targets import (
    DEFAULT_INDEX,
    DEFAULT_STATE,
    describe_state,
    open_state,
    report_to_backend,
)

logger = logging.getLogger(RUNNER_LOGGER)

#: How each way a run can end maps to an exit code.
STATUS_EXIT_CODES = {
    RunStatus.SUCCEEDED: exit_codes.SUCCESS,
    RunStatus.COMPLETED_WITH_FAILURES: exit_codes.COMPLETED_WITH_REJECTED_DOCUMENTS,
    RunStatus.FAILED: exit_codes.FAILED,
    RunStatus.STOPPED: exit_codes.STOPPED,
}

#: The error of a run that a second SIGINT/SIGTERM stopped at once.
STOPPED_AT_ONCE = "stopped at once by a second signal"


@dataclass(frozen=True)
class RunRequest:
    """Everything ``ccf-run`` was asked to do for one run."""

    connector: str
    config_file: Path | None
    assignments: tuple[str, ...]
    options: SyncOptions
    state: str
    index: str
    qbusiness_ids: tuple[str | None, str | None, str | None]
    report_json: str | None
    progress: bool
    qbusiness_options: dict[str, Any] = field(default_factory=dict)
    destination: str | None = None
    destination_config: Path | None = None
    destination_assignments: tuple[str, ...] = ()


def _check_assignments(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        try:
            parse_assignment(value)
        except SettingsError as err:
            raise click.BadParameter(err.message) from None
    return tuple(values)


@click.command(
    name="ccf-run",
    epilog=exit_codes.EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.option("--connector", "connector_name", metavar="NAME", help="The connector to run (see --list).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Connector settings from a YAML (.yaml/.yml) or JSON (.json) file.",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_check_assignments,
    help="Set one setting (dotted keys for nested ones); wins over CCF_<CONNECTOR>_<FIELD> and --config.",
)
@click.option(
    "--list",
    "list_connectors",
    is_flag=True,
    help="List installed connectors, destinations and broken plugins.",
)
@click.option(
    "--show-config", metavar="NAME", help="Show the settings a connector (or a destination) takes, then exit."
)
@click.option(
    "--destination",
    "destination_name",
    envvar="CCF_DESTINATION",
    show_envvar=True,
    metavar="NAME",
    help="Where documents go (see --list): local, qbusiness or a plugin's destination [default: "
    "qbusiness when its three ids are given, else local].",
)
@click.option(
    "--destination-config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Settings of a plugin's destination from a YAML or JSON file.",
)
@click.option(
    "--destination-set",
    "destination_assignments",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_check_assignments,
    help="One setting of a plugin's destination; wins over CCF_DESTINATION_<NAME>_<FIELD> and "
    "--destination-config.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would be added, updated and deleted; write nothing."
)
@click.option("--full", is_flag=True, help="Ignore the checkpoint: list everything and find deletions.")
@click.option("--allow-mass-delete", is_flag=True, help="Allow deleting more than --max-delete-fraction.")
@click.option(
    "--max-delete-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Share of the index a run may delete without --allow-mass-delete.",
)
@click.option(
    "--error-budget",
    type=click.FloatRange(0.0, 1.0),
    default=0.1,
    show_default=True,
    help="Share of scanned documents that may fail before the run counts as failed.",
)
@click.option(
    "--upload-process",
    is_flag=True,
    envvar="CCF_UPLOAD_PROCESS",
    show_envvar=True,
    help="Send documents and write the state from a second process (a second core takes a third "
    "of a large run's CPU); with the SQLite state and the local index or Amazon Q Business.",
)
@click.option(
    "--state",
    default=DEFAULT_STATE,
    show_default=True,
    metavar="PATH",
    help="SQLite file with checksums and checkpoints, or 'api': the CCF backend of the job "
    "(CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT and CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID).",
)
@click.option(
    "--index", default=DEFAULT_INDEX, show_default=True, metavar="PATH", help="The local index (SQLite)."
)
@click.option(
    "--report-json",
    metavar="FILE",
    help="Also write the JSON report to FILE ('-': to stdout, instead of the text).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log format on stderr [default: text on a terminal, json otherwise].",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@click.option("--qbusiness-app-id", envvar="Q_BUSINESS_APP_ID", metavar="ID", help="[env: Q_BUSINESS_APP_ID]")
@click.option(
    "--qbusiness-index-id", envvar="Q_BUSINESS_INDEX_ID", metavar="ID", help="[env: Q_BUSINESS_INDEX_ID]"
)
@click.option(
    "--qbusiness-data-source-id",
    envvar="Q_BUSINESS_DATA_SOURCE_ID",
    metavar="ID",
    help="[env: Q_BUSINESS_DATA_SOURCE_ID] With all three ids, sync to Amazon Q Business.",
)
@click.option(
    "--qbusiness-endpoint-url",
    envvar="Q_BUSINESS_ENDPOINT_URL",
    metavar="URL",
    help="[env: Q_BUSINESS_ENDPOINT_URL] Another Q Business endpoint (tests, VPC endpoints).",
)
@click.option(
    "--s3-bucket",
    envvar="Q_BUSINESS_S3_BUCKET",
    metavar="BUCKET",
    help="[env: Q_BUSINESS_S3_BUCKET] Bucket for documents too large to send inline (with --role-arn).",
)
@click.option(
    "--role-arn",
    envvar="Q_BUSINESS_ROLE_ARN",
    metavar="ARN",
    help="[env: Q_BUSINESS_ROLE_ARN] Role Q Business assumes to read documents staged in --s3-bucket.",
)
@click.option(
    "--max-in-flight",
    envvar="CCF_MAX_IN_FLIGHT",
    type=click.IntRange(1, 64),
    default=None,
    help="[env: CCF_MAX_IN_FLIGHT] Batches sent to Q Business at once (default 16; adapts down "
    "when throttled).",
)
@click.option(
    "--conflict-wait",
    envvar="CCF_CONFLICT_WAIT",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="[env: CCF_CONFLICT_WAIT] How long to wait for a Q Business sync job that someone else is "
    "running before giving up (default 300). A job this connector's killed run left is stopped at once.",
)
@click.version_option(package_name="ccf-framework", prog_name="ccf-run", message="%(prog)s %(version)s")
@click.pass_context
def main(
    ctx: click.Context,
    *,
    connector_name: str | None,
    config_file: Path | None,
    assignments: tuple[str, ...],
    list_connectors: bool,
    show_config: str | None,
    destination_name: str | None,
    destination_config: Path | None,
    destination_assignments: tuple[str, ...],
    dry_run: bool,
    full: bool,
    allow_mass_delete: bool,
    max_delete_fraction: float,
    error_budget: float,
    upload_process: bool,
    state: str,
    index: str,
    report_json: str | None,
    log_format: LogFormat | None,
    log_level: str,
    qbusiness_app_id: str | None,
    qbusiness_index_id: str | None,
    qbusiness_data_source_id: str | None,
    qbusiness_endpoint_url: str | None,
    s3_bucket: str | None,
    role_arn: str | None,
    max_in_flight: int | None,
    conflict_wait: float | None,
) -> None:
    """Run one connector once: sync its documents into the local index or Amazon Q Business.

    Settings come from --config FILE, then CCF_<CONNECTOR>_<FIELD> environment variables, then
    --set KEY=VALUE (each overriding the one before). See --show-config NAME for a connector's settings.
    A plugin's destination (--destination NAME) takes its settings the same way, from
    --destination-config, CCF_DESTINATION_<NAME>_<FIELD> and --destination-set.

    \b
    Examples:
      ccf-run --list
      ccf-run --connector hello --set path=docs --dry-run
      ccf-run --connector hello --set path=docs --destination jsonl --destination-set folder=out
    """
    if not (list_connectors or show_config or connector_name):
        raise click.UsageError("give --connector NAME (or --list, or --show-config NAME)")
    chosen_format = configure_logging(log_format, log_level)
    try:
        if list_connectors:
            print_installed()
            return
        if show_config:
            print_config(show_config)
            return
        assert connector_name is not None
        request = RunRequest(
            connector=connector_name,
            config_file=config_file,
            assignments=assignments,
            options=SyncOptions(
                full=full,
                dry_run=dry_run,
                allow_mass_delete=allow_mass_delete,
                max_delete_fraction=max_delete_fraction,
                error_budget=error_budget,
                upload_process=upload_process,
            ),
            state=state,
            index=index,
            qbusiness_ids=(qbusiness_app_id, qbusiness_index_id, qbusiness_data_source_id),
            qbusiness_options={
                key: value
                for key, value in {
                    "endpoint_url": qbusiness_endpoint_url,
                    "s3_bucket": s3_bucket,
                    "role_arn": role_arn,
                    "max_in_flight": max_in_flight,
                    "conflict_wait_seconds": conflict_wait,
                }.items()
                if value is not None
            },
            report_json=report_json,
            progress=chosen_format == "text" and is_terminal(sys.stderr),
            destination=destination_name,
            destination_config=destination_config,
            destination_assignments=destination_assignments,
        )
        code = run(request)
    except RunnerError as err:
        logger.error("%s", err.message)
        ctx.exit(err.exit_code)
    ctx.exit(code)


def run(request: RunRequest) -> int:
    """Run a connector as ``request`` says; print the report and return the exit code.

    Raises:
        RunnerError: for anything that stops the run before it starts (bad configuration,
            unknown connector, a plugin that failed to load).
    """
    # The connector and its settings first: a misspelled name or a bad setting is reported
    # before the line that says where documents would go.
    connector = guard_connector(_make_connector(request))
    choice = choose(
        DestinationRequest(
            request.destination,
            request.index,
            request.qbusiness_ids,
            request.qbusiness_options,
            request.destination_config,
            request.destination_assignments,
        )
    )
    dry = " (dry run: nothing will be written)" if request.options.dry_run else ""
    first_line = (
        "connector %s -> %s, %s%s",
        request.connector,
        choice.description,
        describe_state(request.state),
        dry,
    )
    try:
        destination = choice.create(dry_run=request.options.dry_run)
    except BadConfiguration:
        logger.info(*first_line)
        raise
    try:
        state = open_state(request.state, dry_run=request.options.dry_run)
    except BadConfiguration:
        logger.info(*first_line)
        _shutdown(destination)
        raise
    # The first line also says when the state and the index disagree (the run then reconciles).
    notice = "" if request.options.dry_run else _reconcile_notice(connector, destination, state)
    logger.info(first_line[0] + "%s", *first_line[1:], notice)
    try:
        report = _sync(request, connector, destination, state)
    except KeyboardInterrupt:
        logger.warning(
            "%s: documents accepted so far stay recorded, the checkpoint was not saved", STOPPED_AT_ONCE
        )
        # The engine's report went with the interrupt; this one says only how the run ended.
        partial = partial_report(
            request.connector, destination.name, STOPPED_AT_ONCE, dry_run=request.options.dry_run
        )
        _publish(request, partial_report_text(partial), partial)
        return exit_codes.STOPPED
    finally:
        _shutdown(destination)
        state.close()
    _publish(request, report_text(report), report)
    if report.error and report.error.startswith("locked:"):
        return exit_codes.LOCKED
    return STATUS_EXIT_CODES[report.status]


def _reconcile_notice(connector: Connector, destination: Destination, state: StateStore) -> str:
    """The first line's warning when the state and the destination disagree (see the engine)."""
    if not isinstance(destination, ListableDestination):
        return ""
    reason = reconcile_reason(
        destination, load_notes(state, state_scope(connector.name, destination)), connector.name
    )
    return (
        f"; state and index disagree ({reason}): full reconcile, every document is sent again"
        if reason
        else ""
    )


def _publish(request: RunRequest, text: str, report: SyncReport | dict[str, Any]) -> None:
    """Print the text report (unless the JSON one goes to stdout) and write the JSON one if asked."""
    if request.report_json != "-":
        click.echo(text)
    if request.report_json:
        write_report_json(report, request.report_json)


def _make_connector(request: RunRequest) -> Connector:
    info = find_connector(request.connector)
    connector_class = info.connector_class
    for warning in unknown_env_variables(request.connector, connector_class.Config):
        logger.warning("%s", warning)
    raw = build_config(
        request.connector,
        connector_class.Config,
        config_file=request.config_file,
        assignments=request.assignments,
    )
    for secret in raw_secret_values(connector_class.Config, raw):
        register_secret(secret)
    hint = f"(see ccf-run --show-config {request.connector})"
    try:
        connector = connector_class.from_config(raw)
    except ConnectorConfigError as err:
        raise BadConfiguration(f"{err}\n{hint}") from None
    except ValidationError as err:
        lines = "\n".join(f"{field}: {problem}" for field, problem in validation_problems(err))
        raise BadConfiguration(
            f"invalid configuration for connector {request.connector!r}:\n{lines}\n{hint}"
        ) from None
    except Exception as err:  # a connector's own __init__ failing is its bug, not a traceback for the user
        logger.debug("building connector %s failed", request.connector, exc_info=True)
        raise RunnerError(
            f"connector {request.connector!r} could not be set up: {type(err).__name__}: {err}"
        ) from err
    for secret in secret_values(connector.config):
        register_secret(secret)
    return connector


def _sync(
    request: RunRequest, connector: Connector, destination: Destination, state: StateStore
) -> SyncReport:
    with ProgressDisplay(request.progress, request.connector) as progress:
        options = request.options
        if progress.callback is not None:
            options = replace(options, progress=progress.callback)
        engine = SyncEngine(destination, state, options)
        context = engine.make_context(connector)
        with log_context(connector=request.connector, run_id=context.run_id), cancel_on_signals(context):
            logger.info("run %s started (%s sync)", context.run_id, context.mode.value)
            report = engine.run(connector, context)
            summary = {
                key: value for key, value in report.as_dict().items() if key not in {"failures", "plan"}
            }
            logger.info("run %s %s", context.run_id, report.status.value, extra={"report": summary})
    report_to_backend(state, report)
    return report


def _shutdown(destination: Destination) -> None:
    # Destinations that hold a connection (the local index) release it here; the port itself has
    # no such method because a run ends with close(status), after which reads may still happen.
    shutdown = getattr(destination, "shutdown", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception:
            logger.debug("shutting down %s failed", destination.name, exc_info=True)
