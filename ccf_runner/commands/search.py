"""``ccf search``: full-text search of the local index, as a given user or as the administrator."""

from __future__ import annotations

from dataclasses import asdict

import click

from ccf_core.destinations.local_search import SearchTimeout
from ccf_runner.commands.common import index_option, json_option, open_index
from ccf_runner.render import print_json


@click.command(short_help="Search the local index (as a given user with --as-user).")
@click.argument("query")
@click.option("--as-user", metavar="ID", help="Search as this user: only documents their ACLs allow.")
@click.option(
    "--as-group",
    "as_groups",
    multiple=True,
    metavar="NAME",
    help="Count the searcher as a member of this group (repeatable), besides the groups the index knows.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="At most this many hits."
)
@index_option
@json_option
def search(
    *, query: str, as_user: str | None, as_groups: tuple[str, ...], limit: int, index_path: str, as_json: bool
) -> None:
    """Search the local index for QUERY (every word must occur), best matches first.

    Without --as-user or --as-group ACLs are not applied: you see every document, as an
    administrator would. With them you see what Amazon Q Business would show that person.
    """
    acl_applied = as_user is not None or bool(as_groups)
    with open_index(index_path) as index:
        try:
            results = index.search_results(query, user=as_user, groups=as_groups, limit=limit)
        except SearchTimeout as err:
            raise click.ClickException(str(err)) from None
        groups = sorted(index.groups_of(as_user, as_groups)) if acl_applied else []
    hits = results.hits
    if acl_applied:
        who = f"user {as_user}" if as_user else "no user"
        member_of = ", ".join(groups) or "no groups"
        click.echo(f"ACLs applied: searching as {who}, member of {member_of}", err=True)
    else:
        click.echo(
            "ACLs were not applied (no --as-user/--as-group): every matching document is shown", err=True
        )
    if as_json:
        print_json(
            {
                "query": query,
                "acl_applied": acl_applied,
                "as_user": as_user,
                "groups": groups,
                "hits": [asdict(hit) for hit in hits],
                "hidden_by_acl": results.hidden,
            }
        )
        return
    hidden = (
        f"{results.hidden} matching document{'s' if results.hidden != 1 else ''} this searcher may not read"
        if results.hidden
        else ""
    )
    if not hits:
        click.echo(
            f"no documents this searcher may read match {query!r} ({hidden})"
            if hidden
            else f"no documents match {query!r}"
        )
        return
    for number, hit in enumerate(hits, start=1):
        click.echo(
            f"{number}. {hit.title}  [{hit.connector}: {hit.id}]"
            if hit.connector
            else f"{number}. {hit.title}  [{hit.id}]"
        )
        if hit.source_uri:
            click.echo(f"   {hit.source_uri}")
        if hit.snippet:
            click.echo(f"   {' '.join(hit.snippet.split())}")
    if hidden:
        click.echo(f"({hidden} left out)", err=True)
