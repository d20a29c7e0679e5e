"""What a newcomer meets in the first hour of ``ccf-run``: versions, log levels, typos, dry runs, lists.

Each test is one thing a new user tried (issue "A newcomer's first hour") that printed a
traceback, said nothing, or said the wrong thing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, ConfigDict, Field

from ccf_core import CCFError, Connector, Document, DocumentMetadata, SyncContext, hookimpl
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.plugins import registered_plugin
from ccf_core.registry import ConnectorRegistry
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner import exit_codes
from ccf_runner.ccf_cli import main as ccf_main
from ccf_runner.run_cli import main


class PagesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patterns: list[str] = Field(default=["*.md"], description="Globs.")
    count: int = Field(2, description="How many pages.")
    members: dict[str, list[str]] = Field(default_factory=dict, description="Group -> users.")


class Pages(Connector):
    """``count`` pages; its ids name the patterns and members it was given, so tests can see them."""

    name = "pages"
    Config = PagesConfig
    config: PagesConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        for number in range(self.config.count):
            yield Document(
                id=f"page-{number}",
                content="|".join(self.config.patterns) + repr(sorted(self.config.members.items())),
                metadata=DocumentMetadata(title=f"Page {number}"),
            )


class Crashing(Connector):
    """Yields one page, then fails on a missing key while building the next."""

    name = "crashing"

    def documents(self, context: SyncContext) -> Iterator[Document]:
        yield Document(id="first", content="one", metadata=DocumentMetadata(title="First"))
        payload: dict[str, str] = {}
        yield Document(id="second", content=payload["body"], metadata=DocumentMetadata(title="Second"))


class Refusing(Connector):
    """Yields one page, then stops with a sentence of its own for the user (a ``CCFError``)."""

    name = "refusing"

    def documents(self, context: SyncContext) -> Iterator[Document]:
        yield Document(id="first", content="one", metadata=DocumentMetadata(title="First"))
        raise CCFError("the service refused the token: set a token with read_api scope")


@hookimpl
def _register(registry: ConnectorRegistry) -> None:
    registry.register(Pages)
    registry.register(Crashing)
    registry.register(Refusing)


@pytest.fixture(autouse=True)
def connectors() -> Iterator[None]:
    with registered_plugin(SimpleNamespace(ccf_register_connectors=_register)):
        yield


def ccf_run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--log-format", "text", *args], env=env)


# -- version and log level ----------------------------------------------------------------------


@pytest.mark.parametrize(("command", "program"), [(main, "ccf-run"), (ccf_main, "ccf")])
def test_version_prints_the_installed_version(command: object, program: str) -> None:
    result = CliRunner().invoke(command, ["--version"])  # type: ignore[arg-type]
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{program} {version('ccf-framework')}"


@pytest.mark.parametrize("level", ["warning", "error"])
def test_log_level_above_info_hides_the_runners_info_lines(level: str) -> None:
    result = ccf_run("--connector", "pages", "--log-level", level)
    assert result.exit_code == exit_codes.SUCCESS
    assert "-> local index" not in result.stderr
    assert "started" not in result.stderr
    assert "pages (full sync to local): succeeded" in result.stdout


def test_log_level_info_shows_the_destination_line() -> None:
    result = ccf_run("--connector", "pages")
    assert result.stderr.splitlines()[0].startswith("ccf-run: connector pages -> local index")


# -- a misspelled connector ---------------------------------------------------------------------


def test_misspelled_connector_fails_before_the_destination_line_with_a_guess() -> None:
    result = ccf_run("--connector", "pagess")
    assert result.exit_code == exit_codes.CONNECTOR_NOT_FOUND
    assert "-> " not in result.stderr
    assert "no connector named 'pagess' is installed; did you mean 'pages'?" in result.stderr
    assert not Path(".ccf").exists()


def test_connector_name_far_from_any_gets_no_guess() -> None:
    result = ccf_run("--connector", "zzzzzz")
    assert "did you mean" not in result.stderr


# -- environment variables and --set ------------------------------------------------------------


def test_misspelled_environment_variable_is_warned_about_with_a_guess() -> None:
    result = ccf_run("--connector", "pages", env={"CCF_PAGES_CONUT": "5"})
    assert result.exit_code == exit_codes.SUCCESS
    assert (
        "environment variable CCF_PAGES_CONUT is ignored: connector 'pages' has no field 'conut'; "
        "did you mean CCF_PAGES_COUNT?"
    ) in result.stderr


def test_environment_variable_of_a_field_is_not_warned_about() -> None:
    result = ccf_run("--connector", "pages", env={"CCF_PAGES_COUNT": "1", "CCF_PAGES_MEMBERS__ADMINS": "a"})
    assert result.exit_code == exit_codes.SUCCESS
    assert "ignored" not in result.stderr
    assert "scanned 1," in result.stdout


def test_set_takes_a_comma_separated_list_for_a_list_field() -> None:
    result = ccf_run("--connector", "pages", "--set", "patterns=**/*.md,**/*.txt", "--set", "count=1")
    assert result.exit_code == exit_codes.SUCCESS, result.stderr
    assert "scanned 1," in result.stdout


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("patterns=**/*.md", ["**/*.md"]),
        ("patterns=a, b", ["a", "b"]),
        ("patterns=[x, y]", ["x", "y"]),
        ("members.admins=alice,bob", {"admins": ["alice", "bob"]}),
    ],
)
def test_list_values_from_set(assignment: str, expected: object) -> None:
    from ccf_runner.settings import config_from_assignments

    key = assignment.partition("=")[0].partition(".")[0]
    assert config_from_assignments([assignment], PagesConfig)[key] == expected


def test_list_from_an_environment_variable_is_comma_separated() -> None:
    from ccf_runner.settings import config_from_env

    config = config_from_env("pages", PagesConfig, {"CCF_PAGES_PATTERNS": "*.md,*.txt"})
    assert config == {"patterns": ["*.md", "*.txt"]}


def test_show_config_says_how_lists_and_maps_are_written() -> None:
    result = ccf_run("--show-config", "pages")
    assert "Lists: comma-separated (--set patterns=**/*.md,**/*.txt)" in result.stdout
    assert "CCF_<CONNECTOR>_MEMBERS__ADMINS=alice" in result.stdout


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_creates_no_file_and_says_would_add() -> None:
    result = ccf_run("--connector", "pages", "--dry-run")
    assert result.exit_code == exit_codes.SUCCESS, result.stderr
    assert not Path(".ccf").exists()
    assert os.listdir(".") == []
    assert "would add 2," in result.stdout
    assert "added 2" not in result.stdout.replace("would add", "")


def test_dry_run_after_a_real_run_plans_the_change_and_writes_nothing() -> None:
    assert ccf_run("--connector", "pages").exit_code == exit_codes.SUCCESS
    result = ccf_run("--connector", "pages", "--dry-run", "--set", "count=3")
    assert "would add 1, would update 0, unchanged 2" in result.stdout
    with LocalIndex(".ccf/index.db") as index:
        assert [doc.id for doc in index.list_documents()] == ["page-0", "page-1"]
    with SqliteStateStore(".ccf/state.db") as state:
        assert [len(state.load_checksums(scope)) for scope in state.connectors()] == [2]


# -- a connector that raises --------------------------------------------------------------------


def test_connector_exception_names_connector_document_file_and_line() -> None:
    result = ccf_run("--connector", "crashing")
    assert result.exit_code == exit_codes.FAILED
    line = next(line for line in result.stdout.splitlines() if line.startswith("  error:"))
    assert line.startswith("  error: connector 'crashing' raised KeyError: 'body'")
    assert "while producing the document after 'first'" in line
    assert f"{Path(__file__).name}:" in line and " in documents)" in line
    assert "--log-level debug" in line
    assert "Traceback" not in result.stderr


def test_a_connectors_own_ccf_error_is_its_sentence_as_it_is() -> None:
    """A connector that raises a CCFError wrote the message for the user: no file, line or type."""
    result = ccf_run("--connector", "refusing")
    assert result.exit_code == exit_codes.FAILED
    line = next(line for line in result.stdout.splitlines() if line.startswith("  error:"))
    assert line == "  error: the service refused the token: set a token with read_api scope"
    assert "Traceback" not in result.stderr


def test_connector_exception_traceback_is_shown_at_debug_level() -> None:
    result = ccf_run("--connector", "crashing", "--log-level", "debug")
    assert "Traceback" in result.stderr
    assert "KeyError: 'body'" in result.stderr


# -- --state api without credentials -------------------------------------------------------------


def test_state_api_without_aws_credentials_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", "https://example.execute-api.invalid/prod")
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", "cc-0123456789ab")
    result = ccf_run("--connector", "pages", "--state", "api")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "Traceback" not in result.stderr
    assert "--state api: no AWS credentials found" in result.stderr
    assert "AWS_PROFILE" in result.stderr


# -- --destination with the built-in destinations ------------------------------------------------


def test_destination_local_wins_over_qbusiness_ids_in_the_environment() -> None:
    ids = {
        "Q_BUSINESS_APP_ID": "a" * 36,
        "Q_BUSINESS_INDEX_ID": "b" * 36,
        "Q_BUSINESS_DATA_SOURCE_ID": "c" * 36,
    }
    result = ccf_run("--connector", "pages", "--destination", "local", env=ids)
    assert result.exit_code == exit_codes.SUCCESS, result.stderr
    assert "-> local index .ccf/index.db" in result.stderr.splitlines()[0]


def test_destination_qbusiness_without_its_ids_names_them() -> None:
    result = ccf_run("--connector", "pages", "--destination", "qbusiness")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "--destination qbusiness needs --qbusiness-app-id" in result.stderr
    assert not Path(".ccf").exists()


def test_destination_settings_without_a_plugin_destination_are_refused() -> None:
    result = ccf_run("--connector", "pages", "--destination-set", "folder=out")
    assert result.exit_code == exit_codes.BAD_CONFIGURATION
    assert "--destination-set/--destination-config are for a plugin's destination" in result.stderr


def test_show_config_of_a_built_in_destination_names_its_options() -> None:
    result = ccf_run("--show-config", "local")
    assert result.exit_code == exit_codes.SUCCESS
    assert "destination local" in result.stdout and "--index PATH" in result.stdout
