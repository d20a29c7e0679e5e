"""``ccf documents``: what the local index holds, document by document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from ccf_core.destinations.local_index import StoredAttribute, StoredDocument
from ccf_runner.commands.api import make_client, optional_api_options, print_remote_documents
from ccf_runner.commands.common import index_option, json_option, open_index
from ccf_runner.render import print_json, print_table

#: ``ccf documents show`` prints at most this much of a document's text (``--json`` has all of it).
TEXT_SHOWN = 4000


def attribute_type(value: StoredAttribute) -> str:
    """The Q Business type of a stored attribute value: string, string list, long or date."""
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, list):
        return "string list"
    if isinstance(value, int):
        return "long"
    return "string"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def document_dict(document: StoredDocument, *, with_text: bool = True) -> dict[str, Any]:
    """A stored document as JSON-ready data; attributes keep their type next to their value."""
    data: dict[str, Any] = {
        "connector": document.connector,
        "id": document.id,
        "title": document.title,
        "content_type": document.content_type,
        "source_uri": document.source_uri,
        "created_at": _iso(document.created_at),
        "last_updated_at": _iso(document.last_updated_at),
        "indexed_at": _iso(document.indexed_at),
        "checksum": document.checksum,
        "size": document.size,
        "attributes": {
            name: {
                "type": attribute_type(value),
                "value": value.isoformat() if isinstance(value, datetime) else value,
            }
            for name, value in document.attributes.items()
        },
        "access_control_list": document.acl,
        "access_control_relation": document.access_control_relation,
    }
    if with_text:
        data["text"] = document.text
    return data


@click.group()
def documents() -> None:
    """Inspect the documents in the local index."""


@documents.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--connector-id",
    "connector_id",
    metavar="ID",
    help="List the documents the CCF API records for backend connector ID (cc-...) instead; "
    "needs --endpoint-url or CCF_ENDPOINT_URL.",
)
@click.option(
    "--connector", "old_connector_id", hidden=True, metavar="ID"
)  # the old spelling of --connector-id
@optional_api_options
@index_option
@json_option
def list_documents(
    *,
    limit: int,
    offset: int,
    connector_id: str | None,
    old_connector_id: str | None,
    index_path: str,
    as_json: bool,
) -> None:
    """List stored documents, by connector and id (the local index, or a backend connector's records).

    \b
    Examples:
      ccf documents list --limit 20
      ccf documents list --connector-id cc-0123456789ab --endpoint-url http://127.0.0.1:8000
    """
    connector_id = connector_id or old_connector_id
    if connector_id is not None:
        print_remote_documents(make_client(), connector_id, limit, as_json)
        return
    with open_index(index_path) as index:
        total = index.count()
        page = index.list_documents(limit=limit, offset=offset)
    if as_json:
        print_json({"total": total, "documents": [document_dict(doc, with_text=False) for doc in page]})
        return
    if not page:
        click.echo(f"no documents (the index holds {total})")
        return
    rows = [
        (doc.connector, doc.id, doc.title, doc.content_type, doc.size, _iso(doc.indexed_at)) for doc in page
    ]
    print_table(("CONNECTOR", "ID", "TITLE", "TYPE", "BYTES", "INDEXED AT"), rows)
    click.echo(f"{offset + 1}-{offset + len(page)} of {total} documents")


@documents.command("show")
@click.argument("document_id", metavar="ID")
@index_option
@json_option
def show_document(document_id: str, index_path: str, as_json: bool) -> None:
    """Show everything the index stores for document ID: metadata, typed attributes, ACL and text.

    \b
    Example:
      ccf documents show handbook/holidays.md --index .ccf/index.db
    """
    with open_index(index_path) as index:
        document = index.get(document_id)
    if document is None:
        raise click.ClickException(f"no document with id {document_id!r} in {index_path}")
    if as_json:
        print_json(document_dict(document))
        return
    for line in _document_lines(document):
        click.echo(line)


def _document_lines(document: StoredDocument) -> list[str]:
    data = document_dict(document, with_text=False)
    lines = [
        f"{label}: {'-' if data[key] is None else data[key]}"
        for label, key in (
            ("connector", "connector"),
            ("id", "id"),
            ("title", "title"),
            ("content type", "content_type"),
            ("source uri", "source_uri"),
            ("created at", "created_at"),
            ("last updated at", "last_updated_at"),
            ("indexed at", "indexed_at"),
            ("checksum", "checksum"),
            ("size (bytes)", "size"),
        )
    ]
    lines.append("attributes:" if document.attributes else "attributes: none")
    for name, value in sorted(document.attributes.items()):
        shown = (
            ", ".join(value)
            if isinstance(value, list)
            else _iso(value)
            if isinstance(value, datetime)
            else value
        )
        lines.append(f"  {name} ({attribute_type(value)}): {shown}")
    if document.acl:
        lines.append(f"access control ({document.access_control_relation} of the controls below):")
        for number, control in enumerate(document.acl, start=1):
            principals = [_principal_text(principal) for principal in control.get("principals", ())]
            lines.append(f"  {number}. {control.get('memberRelation', 'OR')} of: {'; '.join(principals)}")
    else:
        lines.append("access control: none (visible to everyone)")
    text = document.text
    if text:
        lines.append("text:")
        lines.extend(f"  {line}" for line in text[:TEXT_SHOWN].splitlines())
        if len(text) > TEXT_SHOWN:
            lines.append(f"  ... and {len(text) - TEXT_SHOWN} more characters (see --json)")
    else:
        lines.append("text: none (binary content type, or empty)")
    return lines


def _principal_text(principal: dict[str, Any]) -> str:
    for kind, key in (("user", "id"), ("group", "name")):
        member = principal.get(kind)
        if member is not None:
            membership = f" ({member['membershipType']})" if member.get("membershipType") else ""
            return f"{member.get('access', 'ALLOW')} {kind} {member.get(key)}{membership}"
    return json.dumps(principal)
