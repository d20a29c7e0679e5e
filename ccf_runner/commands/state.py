"""``ccf state``: what ``ccf-run`` remembers per connector (checksums and checkpoint), and forgetting it."""

from __future__ import annotations

import json
from typing import Any

import click

from ccf_runner.commands.common import json_option, open_state, state_option
from ccf_runner.render import print_json, print_table


@click.group()
def state() -> None:
    """Inspect or reset the sync state of connectors."""


@state.command("show")
@click.option("--connector", metavar="NAME", help="The connector (default: a summary of every connector).")
@state_option
@json_option
def show_state(connector: str | None, state_path: str, as_json: bool) -> None:
    """Show how many documents and groups are recorded as synced, when, and the checkpoint."""
    with open_state(state_path) as store:
        known = store.connectors()
        if connector is not None and connector not in known:
            listed = ", ".join(known) or "none"
            raise click.ClickException(
                f"no state recorded for connector {connector!r} in {state_path} "
                f"(connectors with state: {listed})"
            )
        summaries = [store.summary(name) for name in ([connector] if connector else known)]
    if as_json:
        print_json(summaries[0] if connector else summaries)
        return
    if connector is None:
        if not summaries:
            click.echo(f"no connector has state in {state_path}")
            return
        rows = [(s["connector"], s["documents"], s["groups"], s["last_synced_at"]) for s in summaries]
        print_table(("CONNECTOR", "DOCUMENTS", "GROUPS", "LAST SYNCED AT"), rows)
        return
    for line in _summary_lines(summaries[0], state_path):
        click.echo(line)


def _summary_lines(summary: dict[str, Any], state_path: str) -> list[str]:
    checkpoint = summary["checkpoint"]
    checkpoint_text = (
        f"{json.dumps(checkpoint, sort_keys=True)} (saved {summary['checkpoint_updated_at']})"
        if checkpoint is not None
        else "none"
    )
    return [
        f"connector: {summary['connector']}",
        f"state: {state_path}",
        f"documents synced: {summary['documents']}",
        f"groups synced: {summary['groups']}",
        f"last synced at: {summary['last_synced_at'] or '-'}",
        f"checkpoint: {checkpoint_text}",
    ]


@state.command("reset")
@click.option("--connector", required=True, metavar="NAME", help="The connector whose state to forget.")
@state_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_state(connector: str, state_path: str, yes: bool) -> None:
    """Forget a connector's checksums and checkpoint: its next run lists and uploads everything again.

    The documents already in the destination are left as they are.
    """
    with open_state(state_path) as store:
        if connector not in store.connectors():
            click.echo(f"no state recorded for connector {connector!r} in {state_path}: nothing to reset")
            return
        summary = store.summary(connector)
        if not yes:
            click.confirm(
                f"Forget the state of {connector!r} in {state_path} ({summary['documents']} documents, "
                f"{summary['groups']} groups, checkpoint: {'yes' if summary['checkpoint'] else 'none'})? "
                "Its next run will upload everything again",
                abort=True,
            )
        store.reset(connector)
    click.echo(f"state of {connector!r} reset: {summary['documents']} documents and the checkpoint forgotten")
