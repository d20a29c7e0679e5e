"""``ccf connectors|checkpoint`` and ``ccf documents list --connector-id``: the CCF API.

``ccf backend serve`` is in :mod:`ccf_runner.commands.serve` and ``ccf jobs`` in
:mod:`ccf_runner.commands.jobs`; this module also holds the API helpers they share.

Every command talks to the API through the generated boto3 ``ccf`` client with the usual AWS
credential chain (``--profile``, environment, instance role); ``--endpoint-url`` (or
``CCF_ENDPOINT_URL``) says where the API is. A local backend (``ccf backend serve``) needs no
credentials: dummy ones are used when none are configured. Tables on a terminal, JSON with ``--json``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ccf_runner.api_session import api_session
from ccf_runner.commands.common import json_option
from ccf_runner.render import print_json, print_table

F = TypeVar("F", bound=Callable[..., Any])


# -- the API client ----------------------------------------------------------------------------


def _api_options(*, required: bool) -> Callable[[F], F]:
    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.ensure_object(dict)[param.name] = value
        return value

    options = [
        click.option(
            "--endpoint-url",
            envvar=["CCF_ENDPOINT_URL", "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"],
            required=required,
            metavar="URL",
            expose_value=False,
            callback=remember,
            help="The CCF API (e.g. https://ID.execute-api.REGION.amazonaws.com/prod, or the URL "
            "`ccf backend serve` prints). Needed here or in CCF_ENDPOINT_URL "
            "(or CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT, as a backend job has it).",
        ),
        click.option(
            "--region",
            envvar="AWS_REGION",
            show_envvar=True,
            expose_value=False,
            callback=remember,
            help="AWS region.",
        ),
        click.option(
            "--profile",
            envvar="AWS_PROFILE",
            show_envvar=True,
            expose_value=False,
            callback=remember,
            help="AWS profile.",
        ),
        click.option(
            "--token",
            envvar="CCF_API_TOKEN",
            expose_value=False,
            callback=remember,
            metavar="TOKEN",
            help="The access token of a local backend started with `ccf backend serve --token`. "
            "Env: CCF_API_TOKEN.",
        ),
    ]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


#: ``--endpoint-url``, ``--region`` and ``--profile``, kept for :func:`make_client`. The URL is not
#: marked required because CCF_ENDPOINT_URL may give it; :func:`make_client` asks for it when missing.
api_options = _api_options(required=False)
#: The same options, for a command that also works without the API (``ccf documents list``).
optional_api_options = api_options


def make_client() -> Any:
    """The boto3 ``ccf`` client for the current command's options."""
    from ccf_core.api import create_client
    from ccf_core.api.client import add_bearer_token

    params = click.get_current_context().ensure_object(dict)
    endpoint = params.get("endpoint_url")
    if not endpoint:
        raise click.UsageError("give --endpoint-url (or set CCF_ENDPOINT_URL) to reach the CCF API")
    session = api_session(endpoint, profile=params.get("profile"), region=params.get("region"))
    client = create_client(endpoint, session=session)
    if params.get("token"):
        add_bearer_token(client, params["token"])
    return client


def api_errors(command: F) -> F:
    """Turn API and connection errors into messages a person can act on."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        try:
            return command(*args, **kwargs)
        except ClientError as err:
            error = err.response.get("Error", {})
            raise click.ClickException(f"{error.get('Code', 'Error')}: {error.get('Message', err)}") from err
        except NoCredentialsError as err:
            raise click.ClickException(
                "no AWS credentials found: configure a profile (--profile), environment variables or a role"
            ) from err
        except EndpointConnectionError as err:
            raise click.ClickException(f"cannot reach the CCF API: {err}") from err
        except BotoCoreError as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


def api_pages(
    method: Callable[..., dict[str, Any]], key: str, limit: int | None, **params: Any
) -> Iterator[dict[str, Any]]:
    token = None
    shown = 0
    while True:
        page = method(**params, **({"next_token": token} if token else {}))
        for item in page.get(key, []):
            if limit is not None and shown >= limit:
                return
            shown += 1
            yield item
        token = page.get("next_token")
        if not token:
            return


def show_record(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
        click.echo(f"{name}: {text}")


def _json_argument(text: str | None, what: str) -> Any:
    """A JSON value from the command line: inline text, ``@file``, or ``-`` for stdin."""
    if text is None:
        return None
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise click.BadParameter(f"{what} is not valid JSON: {err.msg}") from err


def name_value_pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{what} must be NAME=VALUE, got {value!r}")
        found[name] = rest
    return found


max_items_option = click.option("--max-items", type=click.IntRange(min=1), help="Show at most this many.")


# -- ccf connectors ----------------------------------------------------------------------------


@click.group()
def connectors() -> None:
    """Create, inspect, change and delete connectors in the CCF backend."""


def _connector_options(*, create: bool) -> Callable[[F], F]:
    options = [
        click.option("--name", required=create, help="Letters, digits and hyphens (3-128)."),
        click.option("--description", help="What the connector is for."),
        click.option("--connector-type", help="The plugin the jobs run (e.g. gitlab, webcrawler)."),
        click.option("--image-uri", required=create, help="ECR image of the runner container."),
        click.option(
            "--execution-role-arn", required=create, help="Role ECS uses to pull the image and log."
        ),
        click.option("--job-role-arn", required=create, help="Role the job runs as."),
        click.option("--cpu", type=float, help="vCPUs (1, 2, 4, 8, 16)."),
        click.option("--memory", type=int, help="Memory in MiB (a valid Fargate size for the cpu)."),
        click.option("--timeout", type=int, help="Job timeout in seconds (60 to 604800)."),
        click.option(
            "--configuration",
            metavar="JSON",
            help="Non-secret configuration: JSON, @file or - (on update: a JSON Merge Patch).",
        ),
        click.option("--qbusiness-application-id", help="Amazon Q Business application id."),
        click.option("--qbusiness-index-id", help="Amazon Q Business index id."),
        click.option("--qbusiness-data-source-id", help="Amazon Q Business data source id."),
        click.option(
            "--secret", "secrets", multiple=True, metavar="NAME=ARN", help="A secret reference (repeatable)."
        ),
    ]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _connector_request(options: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        name: options[name]
        for name in ("name", "description", "connector_type")
        if options.get(name) is not None
    }
    container = {
        name: options[name]
        for name in ("image_uri", "execution_role_arn", "job_role_arn", "timeout")
        if options.get(name) is not None
    }
    resources = {name: options[name] for name in ("cpu", "memory") if options.get(name) is not None}
    if resources:
        container["resource_requirements"] = resources
    if container:
        request["container_properties"] = container
    configuration = _json_argument(options.get("configuration"), "--configuration")
    if configuration is not None:
        request["configuration"] = configuration
    target = {
        field: options[f"qbusiness_{field}"]
        for field in ("application_id", "index_id", "data_source_id")
        if options.get(f"qbusiness_{field}") is not None
    }
    if target:
        request["qbusiness"] = target
    if options.get("secrets"):
        request["secret_references"] = name_value_pairs(options["secrets"], "--secret")
    return request


@connectors.command("create")
@_connector_options(create=True)
@api_options
@json_option
@api_errors
def create_connector(as_json: bool, **options: Any) -> None:
    """Create a connector (AVAILABLE, ready for jobs).

    \b
    Example:
      ccf connectors create --name wiki --connector-type webcrawler \\
          --image-uri 123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf:latest \\
          --execution-role-arn arn:aws:iam::123456789012:role/exec \\
          --job-role-arn arn:aws:iam::123456789012:role/job
    """
    connector = make_client().create_custom_connector(**_connector_request(options))["connector"]
    show_record(connector, as_json)


@connectors.command("get")
@click.argument("connector_id")
@api_options
@json_option
@api_errors
def get_connector(connector_id: str, as_json: bool) -> None:
    """Show everything about connector CONNECTOR_ID.

    \b
    Example:
      ccf connectors get cc-0123456789ab --json
    """
    show_record(make_client().get_custom_connector(connector_id=connector_id)["connector"], as_json)


@connectors.command("update")
@click.argument("connector_id")
@_connector_options(create=False)
@click.option("--remove-secret", "removed", multiple=True, metavar="NAME", help="Remove a secret reference.")
@api_options
@json_option
@api_errors
def update_connector(connector_id: str, as_json: bool, removed: tuple[str, ...], **options: Any) -> None:
    """Change only the given fields of connector CONNECTOR_ID (nested objects merge).

    \b
    Example:
      ccf connectors update cc-0123456789ab --timeout 7200 --configuration '{"max_pages": 500}'
    """
    request = _connector_request(options)
    if removed:
        request.setdefault("secret_references", {}).update(dict.fromkeys(removed))
    if not request:
        raise click.UsageError("give at least one field to change")
    show_record(
        make_client().update_custom_connector(connector_id=connector_id, **request)["connector"], as_json
    )


@connectors.command("list")
@max_items_option
@api_options
@json_option
@api_errors
def list_connectors(max_items: int | None, as_json: bool) -> None:
    """List connectors (every page).

    \b
    Example:
      CCF_ENDPOINT_URL=http://127.0.0.1:8000 ccf connectors list
    """
    client = make_client()
    found = list(api_pages(client.list_custom_connectors, "connectors", max_items, max_results=100))
    if as_json:
        print_json(found)
        return
    rows = [
        (
            c["connector_id"],
            c["name"],
            c.get("connector_type"),
            c["status"],
            c.get("current_job_id"),
            c["updated_at"],
        )
        for c in found
    ]
    print_table(("ID", "NAME", "TYPE", "STATUS", "CURRENT JOB", "UPDATED AT"), rows)


@connectors.command("delete")
@click.argument("connector_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@api_options
@api_errors
def delete_connector(connector_id: str, yes: bool) -> None:
    """Delete connector CONNECTOR_ID with its checkpoint, document records and jobs.

    \b
    Example:
      ccf connectors delete cc-0123456789ab --yes
    """
    if not yes:
        click.confirm(f"Delete connector {connector_id} and all its records?", abort=True)
    make_client().delete_custom_connector(connector_id=connector_id)
    click.echo(f"deleted {connector_id}")


# -- ccf jobs ----------------------------------------------------------------------------------

#: The environment variable a backend connector id may come from.
CONNECTOR_ID_VARIABLE = "CCF_CONNECTOR_ID"


def connector_id_option(command: F) -> F:
    """``--connector-id ID`` (or CCF_CONNECTOR_ID): a connector of the CCF backend, ``cc-`` + 12 hex.

    ``--connector ID``, its old spelling, still works but is no longer shown: in ``ccf state``
    and ``ccf-run`` ``--connector`` is a local connector *name*.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, connector_id: str | None, old_connector_option: str | None, **kwargs: Any) -> Any:
        chosen = connector_id or old_connector_option
        if not chosen:
            raise click.UsageError(
                f"give --connector-id ID (cc-..., see `ccf connectors list`) or set {CONNECTOR_ID_VARIABLE}"
            )
        return command(*args, connector_id=chosen, **kwargs)

    wrapper = click.option("--connector", "old_connector_option", hidden=True, metavar="ID")(wrapper)
    wrapper = click.option(
        "--connector-id",
        "connector_id",
        envvar=CONNECTOR_ID_VARIABLE,
        show_envvar=True,
        metavar="ID",
        help="The backend connector (cc- and 12 hex digits; `ccf connectors list` shows them).",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


def print_remote_documents(client: Any, connector_id: str, max_items: int | None, as_json: bool) -> None:
    """Print a connector's document records (id, checksum, times), every page up to ``max_items``.

    The notes a run keeps beside its records (``meta:...``, e.g. the sync job it started) are left out.
    """
    from ccf_core.state.api import META_PREFIX

    pages = api_pages(
        client.list_custom_connector_documents,
        "documents",
        max_items,
        connector_id=connector_id,
        max_results=1000,
    )
    found = [record for record in pages if not record["document_id"].startswith(META_PREFIX)]
    if as_json:
        print_json(found)
        return
    print_table(
        ("ID", "CHECKSUM", "UPDATED AT"),
        [(d["document_id"], d["checksum"][:16], d["updated_at"]) for d in found],
    )
    click.echo(f"{len(found)} documents")


@click.group("documents")
def documents_remote() -> None:
    """The document records (ids and checksums) the backend keeps for a connector."""


@documents_remote.command("list")
@connector_id_option
@max_items_option
@api_options
@json_option
@api_errors
def list_remote_documents(connector_id: str, max_items: int | None, as_json: bool) -> None:
    """List the documents recorded as synced for a connector.

    \b
    Example:
      ccf documents list --connector-id cc-0123456789ab
    """
    print_remote_documents(make_client(), connector_id, max_items, as_json)


# -- ccf checkpoint ----------------------------------------------------------------------------


@click.group()
def checkpoint() -> None:
    """Read, replace or delete a connector's checkpoint."""


@checkpoint.command("get")
@connector_id_option
@api_options
@json_option
@api_errors
def get_checkpoint(connector_id: str, as_json: bool) -> None:
    """Print the checkpoint's data (JSON).

    \b
    Example:
      ccf checkpoint get --connector-id cc-0123456789ab
    """
    found = make_client().get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
    if as_json:
        print_json(found)
        return
    try:
        click.echo(json.dumps(json.loads(found["checkpoint_data"]), indent=2, sort_keys=True))
    except json.JSONDecodeError:
        click.echo(found["checkpoint_data"])
    click.echo(f"(saved {found.get('updated_at')})", err=True)


@checkpoint.command("put")
@connector_id_option
@click.argument("data", metavar="JSON")
@api_options
@api_errors
def put_checkpoint(connector_id: str, data: str) -> None:
    """Replace the checkpoint with JSON (inline, @file, or - for stdin).

    \b
    Example:
      ccf checkpoint put --connector-id cc-0123456789ab '{"since": "2026-01-01"}'
    """
    value = _json_argument(data, "JSON")
    make_client().put_custom_connector_checkpoint(
        connector_id=connector_id, checkpoint_data=json.dumps(value)
    )
    click.echo(f"checkpoint of {connector_id} saved")


@checkpoint.command("delete")
@connector_id_option
@api_options
@api_errors
def delete_checkpoint(connector_id: str) -> None:
    """Delete the checkpoint: the next incremental run starts from scratch.

    \b
    Example:
      ccf checkpoint delete --connector-id cc-0123456789ab
    """
    make_client().delete_custom_connector_checkpoint(connector_id=connector_id)
    click.echo(f"checkpoint of {connector_id} deleted")


__all__ = ["checkpoint", "connectors", "documents_remote"]
