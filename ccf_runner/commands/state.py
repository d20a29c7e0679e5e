"""``ccf state``: what ``ccf-run`` remembers (checksums and checkpoint), and forgetting it.

State is kept per connector *and* destination: each scope (``connector@identity``, see
:func:`ccf_core.engine.state_scope`) is shown and reset on its own. Scopes written before state
was kept per destination have no identity and are shown as such.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ccf_core.engine import split_scope
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner.commands.common import json_option, open_state, state_option
from ccf_runner.discovery import did_you_mean
from ccf_runner.render import print_json, print_table

#: How a scope recorded before state was kept per destination names its destination.
UNSCOPED = "(any: recorded before state was kept per destination)"


@click.group()
def state() -> None:
    """Inspect or reset the sync state of connectors, per destination."""


def _scopes(store: SqliteStateStore) -> dict[str, list[tuple[str, str | None]]]:
    """Every connector with state, mapped to its ``(scope, destination identity)`` pairs."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for scope in store.connectors():
        connector, identity = split_scope(scope)
        found.setdefault(connector, []).append((scope, identity))
    return found


def _summary(store: SqliteStateStore, scope: str, identity: str | None) -> dict[str, Any]:
    """The store's summary of one scope, with the connector and the destination apart."""
    summary = store.summary(scope)
    return {
        **summary,
        "connector": split_scope(scope)[0],
        "destination": identity,
        "scope": scope,
    }


def _destination_label(identity: str | None) -> str:
    return UNSCOPED if identity is None else identity


def _no_state(connector: str, state_path: str, known: dict[str, Any]) -> str:
    listed = ", ".join(known) or "none"
    return (
        f"no state recorded for connector {connector!r} in {state_path}{did_you_mean(connector, known)} "
        f"(connectors with state: {listed})"
    )


@state.command("show")
@click.option(
    "--connector",
    metavar="NAME",
    help="The connector's name, as given to ccf-run --connector (default: a summary of every connector).",
)
@state_option
@json_option
def show_state(connector: str | None, state_path: str, as_json: bool) -> None:
    """Show, per connector and destination, the documents and groups synced, when, and the checkpoint.

    This is the local state ccf-run keeps (--state FILE); a backend connector's state is in
    `ccf checkpoint get --connector-id ID` and `ccf documents list --connector-id ID`.

    \b
    Example:
      ccf state show --connector hello
    """
    with open_state(state_path) as store:
        known = _scopes(store)
        if connector is not None and connector not in known:
            raise click.ClickException(_no_state(connector, state_path, known))
        names = [connector] if connector is not None else list(known)
        summaries = [_summary(store, scope, identity) for name in names for scope, identity in known[name]]
    if as_json:
        print_json(summaries)
        return
    if connector is None:
        if not summaries:
            click.echo(f"no connector has state in {state_path}")
            return
        rows = [
            (
                s["connector"],
                _destination_label(s["destination"]),
                s["documents"],
                s["groups"],
                s["last_synced_at"],
                s["checkpoint_updated_at"],
            )
            for s in summaries
        ]
        print_table(
            ("CONNECTOR", "DESTINATION", "DOCUMENTS", "GROUPS", "LAST SYNCED AT", "CHECKPOINT SAVED AT"), rows
        )
        return
    click.echo(f"connector: {connector}")
    click.echo(f"state: {state_path}")
    for summary in summaries:
        click.echo()
        for line in _summary_lines(summary):
            click.echo(line)


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    checkpoint = summary["checkpoint"]
    checkpoint_text = (
        f"{json.dumps(checkpoint, sort_keys=True)} (saved {summary['checkpoint_updated_at']})"
        if checkpoint is not None
        else "none"
    )
    return [
        f"destination: {_destination_label(summary['destination'])}",
        f"  documents synced: {summary['documents']}",
        f"  groups synced: {summary['groups']}",
        f"  last synced at: {summary['last_synced_at'] or '-'}",
        f"  checkpoint: {checkpoint_text}",
    ]


@state.command("reset")
@click.option(
    "--connector",
    required=True,
    metavar="NAME",
    help="The name of the connector whose state to forget, as given to ccf-run --connector.",
)
@click.option(
    "--destination",
    metavar="IDENTITY",
    help="Forget only the state kept for this destination (as `ccf state show` names it; default: all).",
)
@state_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_state(connector: str, destination: str | None, state_path: str, yes: bool) -> None:
    """Forget a connector's checksums and checkpoint: its next run lists and uploads everything again.

    The documents already in the destinations are left as they are.

    \b
    Example:
      ccf state reset --connector hello --yes
    """
    with open_state(state_path) as store:
        scopes = _scopes(store).get(connector, [])
        chosen = [pair for pair in scopes if destination is None or pair[1] == destination]
        if not chosen:
            click.echo(_nothing_to_reset(connector, destination, state_path, scopes))
            return
        summaries = [_summary(store, scope, identity) for scope, identity in chosen]
        if not yes:
            click.confirm(
                f"Forget the state of {connector!r} in {state_path} for {_count(summaries)}:\n"
                + "\n".join(
                    f"  {_destination_label(s['destination'])}: {s['documents']} documents, "
                    f"{s['groups']} groups, checkpoint: {'yes' if s['checkpoint'] else 'none'}"
                    for s in summaries
                )
                + "\nIts next run will upload everything again",
                abort=True,
            )
        for scope, _ in chosen:
            store.reset(scope)
    documents = sum(s["documents"] for s in summaries)
    click.echo(
        f"state of {connector!r} reset for {_count(summaries)}: "
        f"{documents} documents and the checkpoints forgotten"
    )


def _count(summaries: list[dict[str, Any]]) -> str:
    return "1 destination" if len(summaries) == 1 else f"{len(summaries)} destinations"


def _nothing_to_reset(
    connector: str, destination: str | None, state_path: str, scopes: list[tuple[str, str | None]]
) -> str:
    if not scopes:
        return f"no state recorded for connector {connector!r} in {state_path}: nothing to reset"
    listed = ", ".join(_destination_label(identity) for _, identity in scopes)
    return (
        f"no state recorded for connector {connector!r} and destination {destination!r} in {state_path}: "
        f"nothing to reset (its destinations with state: {listed})"
    )
