"""Where a run writes: the first output line names the stores the way they name themselves."""

from __future__ import annotations

import click

from ccf_core.destinations.local_index import LocalIndex
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner import ccf_cli, run_cli
from ccf_runner.targets import DEFAULT_INDEX, DEFAULT_STATE, choose_destination, describe_state


def _default(command: click.Command, option: str) -> object:
    return next(param.default for param in command.params if option in param.opts)


def test_first_line_names_the_state_store_as_the_store_describes_itself() -> None:
    with SqliteStateStore(DEFAULT_STATE) as store:
        assert describe_state(DEFAULT_STATE) == store.describe()


def test_first_line_names_the_local_index_as_the_index_describes_itself() -> None:
    with LocalIndex(DEFAULT_INDEX) as index:
        assert choose_destination(DEFAULT_INDEX).description == index.describe()


def test_ccf_reads_the_files_ccf_run_writes_by_default() -> None:
    state_show = ccf_cli.main.commands["state"].commands["show"]  # type: ignore[attr-defined]
    assert _default(state_show, "--state") == _default(run_cli.main, "--state") == DEFAULT_STATE
    search = ccf_cli.main.commands["search"]  # type: ignore[attr-defined]
    assert _default(search, "--index") == _default(run_cli.main, "--index") == DEFAULT_INDEX
