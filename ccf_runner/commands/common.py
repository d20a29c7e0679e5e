"""Options and helpers shared by the ``ccf`` subcommands that read local files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from ccf_core.destinations.local_index import LocalIndex
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner.targets import DEFAULT_INDEX, DEFAULT_STATE

index_option = click.option(
    "--index",
    "index_path",
    default=DEFAULT_INDEX,
    show_default=True,
    metavar="PATH",
    help="The local index written by ccf-run.",
)
state_option = click.option(
    "--state",
    "state_path",
    default=DEFAULT_STATE,
    show_default=True,
    metavar="PATH",
    help="The state database written by ccf-run.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _require_file(path: str, what: str, option: str) -> Path:
    found = Path(path)
    if not found.is_file():
        raise click.ClickException(
            f"no {what} at {path}: run `ccf-run --connector NAME` first to create it (or pass {option} PATH)"
        )
    return found


def open_index(path: str) -> LocalIndex:
    """Open an existing local index; a missing one is an error that says to run ``ccf-run`` first."""
    found = _require_file(path, "local index", "--index")
    try:
        return LocalIndex(found)
    except sqlite3.Error as err:
        raise click.ClickException(f"cannot open the local index {path}: {err}") from err


def open_state(path: str) -> SqliteStateStore:
    """Open an existing state database; a missing one is an error that says to run ``ccf-run`` first."""
    found = _require_file(path, "state database", "--state")
    try:
        return SqliteStateStore(found)
    except sqlite3.Error as err:
        raise click.ClickException(f"cannot open the state database {path}: {err}") from err
