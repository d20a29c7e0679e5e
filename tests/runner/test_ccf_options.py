"""``ccf`` option names say what they take and where it may come from; a busy port is one line."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from ccf_runner.ccf_cli import main

#: Commands whose help is kept by other parts (``ccf search`` belongs to the local index work).
WITHOUT_EXAMPLE = {("search",)}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


ALL_COMMANDS = sorted(_commands(main))


@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c not in WITHOUT_EXAMPLE], ids=" ".join)
def test_every_command_shows_an_example(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=110)
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"ccf {command[0]}" in result.stdout.split("Example", 1)[1]


@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c[0] in {"jobs", "checkpoint", "connectors"}])
def test_endpoint_url_is_not_shown_as_required_and_names_its_variable(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    line = next(line for line in result.stdout.splitlines() if "--endpoint-url" in line)
    assert "required" not in line
    assert "CCF_ENDPOINT_URL" in result.stdout


@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c[0] in {"jobs", "checkpoint"}])
def test_backend_commands_take_a_connector_id_with_its_variable(command: tuple[str, ...]) -> None:
    text = CliRunner().invoke(main, [*command, "--help"], terminal_width=200).stdout
    assert "--connector-id ID" in text
    assert "CCF_CONNECTOR_ID" in text
    assert "--connector " not in text.replace("--connector-id", "")


def test_state_connector_is_a_local_name() -> None:
    text = CliRunner().invoke(main, ["state", "show", "--help"], terminal_width=200).stdout
    assert "--connector NAME" in text
    assert "as given to ccf-run --connector" in text


def test_missing_connector_id_says_where_it_can_come_from() -> None:
    result = CliRunner().invoke(main, ["jobs", "list"], env={"CCF_CONNECTOR_ID": None})
    assert result.exit_code == 2
    assert "give --connector-id ID" in result.stderr and "CCF_CONNECTOR_ID" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "list", "--connector", "cc-0123456789ab"],
        ["jobs", "list", "--connector-id", "cc-0123456789ab"],
        ["checkpoint", "get", "--connector", "cc-0123456789ab"],
        ["documents", "list", "--connector", "cc-0123456789ab"],
    ],
)
def test_old_and_new_spellings_of_the_connector_id_are_accepted(args: list[str]) -> None:
    env = {
        "CCF_ENDPOINT_URL": None,
        "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT": None,
        "CCF_CONNECTOR_ID": None,
    }
    result = CliRunner().invoke(main, args, env=env)
    # Past the connector id, the next thing missing is the endpoint.
    assert result.exit_code == 2
    assert "give --endpoint-url (or set CCF_ENDPOINT_URL)" in result.stderr


def test_connector_id_from_the_environment() -> None:
    env = {"CCF_ENDPOINT_URL": None, "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT": None}
    result = CliRunner().invoke(main, ["jobs", "list"], env={**env, "CCF_CONNECTOR_ID": "cc-0123456789ab"})
    assert "give --endpoint-url" in result.stderr


def test_backend_serve_on_a_busy_port_is_one_line_with_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["backend", "serve", "--port", str(port), "--no-jobs"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port 0" in result.stderr
