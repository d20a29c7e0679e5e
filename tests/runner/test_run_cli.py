"""``ccf-run`` in process (click's CliRunner): listing, config, exit codes, reports and dry runs."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ccf_core import Connector, Document, DocumentFile, DocumentMetadata, SyncContext, hookimpl
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.engine import state_scope
from ccf_core.plugins import registered_plugin
from ccf_core.registry import ConnectorRegistry
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner import exit_codes
from ccf_runner.run_cli import main

TOKEN = "tok-9f8e7d6c5b4a"


class NotesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(3, description="How many notes to yield.")
    greeting: str = Field("hello", description="The first word of every note.")
    token: SecretStr | None = Field(None, description="API token of the notes service.")


class Notes(Connector):
    """Yields ``count`` small text notes; logs its token to prove the runner masks it."""

    name = "notes"
    description = "numbered notes"
    Config = NotesConfig
    config: NotesConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        if self.config.token is not None:
            context.logger.info("calling the notes API with token %s", self.config.token.get_secret_value())
        for number in range(self.config.count):
            yield Document(
                id=f"note-{number}",
                content=f"{self.config.greeting} note {number}",
                metadata=DocumentMetadata(title=f"Note {number}"),
            )


class OneInvalid(Connector):
    """Nineteen good documents and one without a title (within the default error budget)."""

    name = "one-invalid"

    def documents(self, context: SyncContext) -> Iterator[Document]:
        for number in range(19):
            yield Document(id=f"ok-{number}", content="fine", metadata=DocumentMetadata(title="ok"))
        yield Document(id="untitled", content="no title", metadata=DocumentMetadata(title=""))


class PickyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr


class Picky(Connector):
    """Refuses every token in its constructor, quoting it (a connector bug the runner must contain)."""

    name = "picky"
    Config = PickyConfig
    config: PickyConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        raise ValueError(f"token {self.config.token.get_secret_value()} was refused")

    def documents(self, context: SyncContext) -> Iterator[Document]:
        return iter(())


class Leaky(Connector):
    """Quotes its token in a failure message (a missing file) and in the error that ends the run."""

    name = "leaky"
    Config = PickyConfig
    config: PickyConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        token = self.config.token.get_secret_value()
        yield Document(
            id="cached", file=DocumentFile(f"missing-{token}.txt"), metadata=DocumentMetadata(title="c")
        )
        raise RuntimeError(f"GET https://x?token={token}")


@hookimpl
def _register(registry: ConnectorRegistry) -> None:
    registry.register(Notes)
    registry.register(OneInvalid)
    registry.register(Picky)
    registry.register(Leaky)


@pytest.fixture(autouse=True)
def test_connectors() -> Iterator[None]:
    with registered_plugin(SimpleNamespace(ccf_register_connectors=_register)):
        yield


def ccf_run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--log-format", "text", *args], env=env)


def stored_ids(path: str = ".ccf/index.db") -> list[str]:
    with LocalIndex(path) as index:
        return [doc.id for doc in index.list_documents()]


# -- listing and describing -------------------------------------------------------------------


def test_list_shows_a_registered_connector_with_its_sync_mode() -> None:
    result = ccf_run("--list")
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("notes "))
    assert "full" in line and "numbered notes" in line


def test_show_config_lists_fields_with_type_default_and_description() -> None:
    result = ccf_run("--show-config", "notes")
    assert result.exit_code == 0
    count_line = next(line for line in result.stdout.splitlines() if line.startswith("count "))
    assert "int" in count_line and "3" in count_line and "How many notes to yield." in count_line
    token_line = next(line for line in result.stdout.splitlines() if line.startswith("token "))
    assert "(secret)" in token_line and "CCF_NOTES_TOKEN" in token_line


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    assert "130" in result.output and "invalid configuration" in result.output


# -- errors before any work -------------------------------------------------------------------


def test_bad_config_exits_4_with_field_problem_lines_and_no_traceback() -> None:
    result = ccf_run("--connector", "notes", "--set", "count=many", "--set", "colour=red")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "count: Input should be a valid integer" in result.stderr
    assert "colour: unknown field" in result.stderr
    assert "Traceback" not in result.output
    assert not Path(".ccf/state.db").exists()


def test_bad_config_never_prints_a_secret_value() -> None:
    result = ccf_run("--connector", "notes", "--set", f"token={TOKEN}", "--set", "count=many")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert TOKEN not in result.output


def test_secret_logged_by_a_connector_is_masked() -> None:
    result = ccf_run("--connector", "notes", "--set", f"token={TOKEN}")
    assert result.exit_code == 0
    assert "calling the notes API with token ***" in result.stderr
    assert TOKEN not in result.output


def test_secret_in_the_run_error_and_failures_is_masked_in_the_json_log() -> None:
    result = CliRunner().invoke(
        main, ["--connector", "leaky", "--log-format", "json", "--set", f"token={TOKEN}"]
    )
    assert result.exit_code == exit_codes.FAILED
    assert TOKEN not in result.stderr
    final = json.loads(result.stderr.splitlines()[-1])
    assert "raised RuntimeError: GET https://x?token=*** " in final["report"]["error"]


def test_secret_in_the_run_error_and_failures_is_masked_in_the_text_report() -> None:
    result = ccf_run("--connector", "leaky", "--set", f"token={TOKEN}")
    assert result.exit_code == exit_codes.FAILED
    assert TOKEN not in result.stdout
    assert "connector 'leaky' raised RuntimeError: GET https://x?token=*** " in result.stdout
    assert "missing-***.txt" in result.stdout


def test_secret_in_the_run_error_and_failures_is_masked_in_the_json_report() -> None:
    result = ccf_run("--connector", "leaky", "--set", f"token={TOKEN}", "--report-json", "report.json")
    assert result.exit_code == exit_codes.FAILED
    text = Path("report.json").read_text()
    assert TOKEN not in text
    report = json.loads(text)
    assert "connector 'leaky' raised RuntimeError: GET https://x?token=*** " in report["error"]
    assert "missing-***.txt" in report["failures"][0]["message"]


def test_connector_failing_to_build_exits_1_without_traceback_or_secret() -> None:
    result = ccf_run("--connector", "picky", "--set", f"token={TOKEN}")
    assert result.exit_code == exit_codes.FAILED
    assert "connector 'picky' could not be set up: ValueError: token *** was refused" in result.stderr
    assert TOKEN not in result.output and "Traceback" not in result.output


def test_unknown_connector_exits_5_and_lists_installed_ones() -> None:
    result = ccf_run("--connector", "nope")
    assert result.exit_code == exit_codes.CONNECTOR_NOT_FOUND
    assert "no connector named 'nope' is installed" in result.stderr
    assert "notes" in result.stderr and "one-invalid" in result.stderr


def test_set_without_equals_sign_is_a_usage_error() -> None:
    result = ccf_run("--connector", "notes", "--set", "count")
    assert result.exit_code == exit_codes.USAGE
    assert "expected KEY=VALUE" in result.output


def test_state_api_without_the_job_environment_is_a_configuration_error_naming_it() -> None:
    env = {
        "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT": "",
        "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID": "",
    }
    result = ccf_run("--connector", "notes", "--state", "api", env=env)
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT" in result.stderr
    assert "Traceback" not in result.stderr


def test_some_but_not_all_qbusiness_ids_is_a_configuration_error_naming_the_missing_ones() -> None:
    result = ccf_run("--connector", "notes", env={"Q_BUSINESS_APP_ID": "app-1"})
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "--qbusiness-index-id" in result.stderr and "--qbusiness-data-source-id" in result.stderr
    assert "--qbusiness-app-id" not in result.stderr.split("missing:")[1]


def test_malformed_qbusiness_ids_are_a_configuration_error_naming_them() -> None:
    ids = ["--qbusiness-app-id", "a", "--qbusiness-index-id", "i", "--qbusiness-data-source-id", "d"]
    result = ccf_run("--connector", "notes", *ids)
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert result.stderr.splitlines()[0].startswith(
        "ccf-run: connector notes -> Amazon Q Business application a"
    )
    assert "application_id 'a' is not a Q Business id" in result.stderr
    assert "Traceback" not in result.stderr


# -- runs -------------------------------------------------------------------------------------


def test_first_line_names_the_destination_and_state_store() -> None:
    result = ccf_run("--connector", "notes")
    assert result.exit_code == exit_codes.SUCCESS
    assert result.stderr.splitlines()[0] == (
        "ccf-run: connector notes -> local index .ccf/index.db, sqlite state .ccf/state.db"
    )


def test_run_stores_documents_and_prints_the_text_report() -> None:
    result = ccf_run("--connector", "notes")
    assert result.exit_code == exit_codes.SUCCESS
    assert "notes (full sync to local): succeeded" in result.stdout
    assert "added 3" in result.stdout
    assert stored_ids() == ["note-0", "note-1", "note-2"]


def test_upload_process_stores_what_a_run_in_one_process_stores() -> None:
    result = ccf_run("--connector", "notes", "--set", "count=40", "--upload-process")
    assert result.exit_code == exit_codes.SUCCESS, result.output
    assert "the upload pipeline runs in process" in result.output
    assert "added 40" in result.stdout
    assert stored_ids() == sorted(f"note-{number}" for number in range(40))
    again = ccf_run("--connector", "notes", "--set", "count=30", "--set", "greeting=hi")
    assert "updated 30, unchanged 0, deleted 10" in again.stdout


def test_second_run_reports_every_document_unchanged() -> None:
    ccf_run("--connector", "notes")
    result = ccf_run("--connector", "notes", "--report-json", "report.json")
    report = json.loads(Path("report.json").read_text())
    assert result.exit_code == exit_codes.SUCCESS
    assert (report["scanned"], report["added"], report["unchanged"]) == (3, 0, 3)


def test_dry_run_writes_nothing_and_prints_the_plan() -> None:
    ccf_run("--connector", "notes", "--set", "count=1")
    result = ccf_run("--connector", "notes", "--dry-run", "--set", "count=2", "--set", "greeting=hi")
    assert result.exit_code == exit_codes.SUCCESS
    assert "plan: add 1, update 1, delete 0" in result.stdout
    assert "would add:\n    note-1" in result.stdout
    assert "would update:\n    note-0" in result.stdout
    with LocalIndex(".ccf/index.db") as index:
        assert index.count() == 1
        stored = index.get("note-0")
        assert stored is not None and stored.text == "hello note 0"
        scope = state_scope("notes", index)
    with SqliteStateStore(".ccf/state.db") as state:
        assert list(state.load_checksums(scope)) == ["note-0"]


def test_dry_run_on_a_fresh_directory_leaves_the_index_empty() -> None:
    result = ccf_run("--connector", "notes", "--dry-run")
    assert result.exit_code == exit_codes.SUCCESS
    assert "dry run: nothing would be written" in result.stdout
    assert stored_ids() == []


def test_report_json_has_integer_counters_float_duration_and_failures() -> None:
    result = ccf_run("--connector", "notes", "--report-json", "out/report.json")
    report = json.loads(Path("out/report.json").read_text())
    assert result.exit_code == exit_codes.SUCCESS
    for key in ("scanned", "added", "updated", "unchanged", "deleted", "failed", "skipped", "bytes"):
        assert type(report[key]) is int, key
    assert type(report["duration_seconds"]) is float
    assert report["failures"] == []
    assert (report["status"], report["added"]) == ("succeeded", 3)


def test_one_invalid_document_exits_3_and_is_listed_in_the_report() -> None:
    result = ccf_run("--connector", "one-invalid", "--report-json", "report.json")
    report = json.loads(Path("report.json").read_text())
    assert result.exit_code == exit_codes.COMPLETED_WITH_REJECTED_DOCUMENTS
    assert [(f["document_id"], f["reason"]) for f in report["failures"]] == [("untitled", "invalid_document")]
    assert report["added"] == 19


def test_exceeding_the_error_budget_exits_1() -> None:
    result = ccf_run("--connector", "one-invalid", "--error-budget", "0")
    assert result.exit_code == exit_codes.FAILED
    assert "error budget" in result.stdout


def test_set_overrides_the_config_file(tmp_path: Path) -> None:
    Path("notes.yaml").write_text("count: 1\ngreeting: from-file\n")
    result = ccf_run("--connector", "notes", "--config", "notes.yaml", "--set", "greeting=from-flag")
    assert result.exit_code == exit_codes.SUCCESS
    with LocalIndex(".ccf/index.db") as index:
        stored = index.get("note-0")
    assert stored is not None and stored.text == "from-flag note 0"
    assert stored_ids() == ["note-0"]


def test_env_overrides_the_config_file() -> None:
    Path("notes.json").write_text('{"count": 1, "greeting": "from-file"}')
    result = ccf_run("--connector", "notes", "--config", "notes.json", env={"CCF_NOTES_GREETING": "from-env"})
    assert result.exit_code == exit_codes.SUCCESS
    with LocalIndex(".ccf/index.db") as index:
        stored = index.get("note-0")
    assert stored is not None and stored.text == "from-env note 0"


def test_unreadable_config_file_is_a_configuration_error_naming_it() -> None:
    Path("notes.yaml").write_text("count: [1\n")
    result = ccf_run("--connector", "notes", "--config", "notes.yaml")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "--config notes.yaml: not valid YAML" in result.stderr


def test_json_log_format_emits_parseable_json_lines() -> None:
    result = CliRunner().invoke(main, ["--connector", "notes", "--log-format", "json"])
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert result.exit_code == exit_codes.SUCCESS
    assert records[0]["message"].startswith("connector notes -> local index")
    assert {record["run_id"] for record in records[1:]} == {records[1]["run_id"]}
    assert all(record["connector"] == "notes" for record in records[1:])


def test_signal_handlers_are_restored_after_the_run() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    result = ccf_run("--connector", "notes")
    assert result.exit_code == exit_codes.SUCCESS
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_report_json_dash_prints_only_the_json_report_on_stdout() -> None:
    result = ccf_run("--connector", "notes", "--report-json", "-")
    assert result.exit_code == exit_codes.SUCCESS
    assert json.loads(result.stdout)["added"] == 3
