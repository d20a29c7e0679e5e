"""``ccf jobs``: start, stop, watch and list a connector's jobs, and read a local job's log."""

from __future__ import annotations

import sys
import time
from typing import Any
from urllib.parse import urlsplit

import click

from ccf_runner.commands.api import (
    api_errors,
    api_options,
    api_pages,
    connector_id_option,
    make_client,
    max_items_option,
    name_value_pairs,
    show_record,
)
from ccf_runner.commands.common import json_option
from ccf_runner.render import print_json, print_table

_JOB_COLUMNS = (
    "JOB ID",
    "STATUS",
    "CREATED AT",
    "COMPLETED AT",
    "SCANNED",
    "ADDED",
    "UPDATED",
    "DELETED",
    "FAILED",
)


def _job_row(job: dict[str, Any]) -> tuple[Any, ...]:
    metrics = job.get("metrics") or {}
    counters = [metrics.get(name) for name in ("scanned", "added", "updated", "deleted", "failed")]
    return (job["job_id"], job["status"], job["created_at"], job.get("completed_at"), *counters)


@click.group()
def jobs() -> None:
    """Start, stop and inspect a connector's jobs."""


@jobs.command("start")
@connector_id_option
@click.option(
    "--env", "environment", multiple=True, metavar="NAME=VALUE", help="A variable for the job (repeatable)."
)
@api_options
@json_option
@api_errors
def start_job(connector_id: str, environment: tuple[str, ...], as_json: bool) -> None:
    """Start a job (refused while another job of the connector runs).

    \b
    Example:
      ccf jobs start --connector-id cc-0123456789ab --env LOG_LEVEL=debug
    """
    variables = [
        {"name": name, "value": value} for name, value in name_value_pairs(environment, "--env").items()
    ]
    show_record(
        make_client().start_custom_connector_job(connector_id=connector_id, environment=variables)["job"],
        as_json,
    )


@jobs.command("stop")
@connector_id_option
@click.argument("job_id")
@api_options
@json_option
@api_errors
def stop_job(connector_id: str, job_id: str, as_json: bool) -> None:
    """Ask job JOB_ID to stop (it becomes STOPPING, then STOPPED).

    \b
    Example:
      ccf jobs stop --connector-id cc-0123456789ab ccj-0123456789ab
    """
    show_record(
        make_client().stop_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"], as_json
    )


@jobs.command("get")
@connector_id_option
@click.argument("job_id")
@api_options
@json_option
@api_errors
def get_job(connector_id: str, job_id: str, as_json: bool) -> None:
    """Show job JOB_ID with its metrics (and its log file, on a local backend).

    \b
    Example:
      ccf jobs get --connector-id cc-0123456789ab ccj-0123456789ab
    """
    job = make_client().get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]
    found = local_log(connector_id, job_id, 0, head=True)
    if found is not None:
        job["log_file"] = found[0]
    show_record(job, as_json)


@jobs.command("logs")
@connector_id_option
@click.option("--job", "job_id", required=True, metavar="ID", help="The job (ccj-...).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@api_options
@api_errors
def job_logs(connector_id: str, job_id: str, follow: bool) -> None:
    """Print a job's output (jobs run by `ccf backend serve`; on AWS Batch they are in CloudWatch Logs).

    \b
    Example:
      ccf jobs logs --connector-id cc-0123456789ab --job ccj-0123456789ab --follow
    """
    client = make_client()
    job = client.get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]
    offset = 0
    while True:
        found = local_log(connector_id, job_id, offset)
        if found is None:
            raise click.ClickException(
                "this API keeps no job logs: jobs on AWS Batch log to CloudWatch Logs (log group of the "
                "backend's job definition); `ccf jobs logs` reads the logs of `ccf backend serve`"
            )
        _, data, offset = found
        if data:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        if not follow or job["status"] in _ENDED:
            return
        if not data:
            time.sleep(0.5)
            job = client.get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]


_ENDED = ("SUCCEEDED", "FAILED", "STOPPED")


def local_log(
    connector_id: str, job_id: str, offset: int, *, head: bool = False
) -> tuple[str, bytes, int] | None:
    """``(path, bytes from offset, next offset)`` of a job's log on a local backend; None elsewhere.

    A job the local executor has not started yet has an empty log. A refused token, a server error
    or an unreachable server is an error; any other answer (an API on AWS, an older server) means
    there is no local log.
    """
    import urllib.error
    import urllib.request

    params = click.get_current_context().ensure_object(dict)
    endpoint = str(params.get("endpoint_url") or "").rstrip("/")
    if urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        f"{endpoint}/local/jobs/{connector_id}/{job_id}/log?offset={offset}", method="HEAD" if head else "GET"
    )
    if params.get("token"):
        request.add_header("Authorization", f"Bearer {params['token']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            path = response.headers.get("X-Ccf-Log-Path")
            data = b"" if head else response.read()
            next_offset = int(response.headers.get("X-Ccf-Log-Next-Offset") or offset + len(data))
    except urllib.error.HTTPError as err:
        if err.code == 401:
            raise click.ClickException(
                "cannot read the job log: the server refused the access token (--token or CCF_API_TOKEN)"
            ) from None
        if err.code >= 500:
            raise click.ClickException(f"cannot read the job log: the server answered {err.code}") from None
        path = err.headers.get("X-Ccf-Log-Path") if err.code == 404 else None
        return (path, b"", offset) if path else None
    except urllib.error.URLError as err:
        raise click.ClickException(f"cannot read the job log from {endpoint}: {err.reason}") from None
    except (OSError, ValueError):
        return None
    return (path, data, next_offset) if path else None


@jobs.command("list")
@connector_id_option
@click.option(
    "--status", type=click.Choice(["STARTED", "RUNNING", "STOPPING", "STOPPED", "FAILED", "SUCCEEDED"])
)
@max_items_option
@api_options
@json_option
@api_errors
def list_jobs(connector_id: str, status: str | None, max_items: int | None, as_json: bool) -> None:
    """List a connector's jobs, newest first.

    \b
    Example:
      ccf jobs list --connector-id cc-0123456789ab --status RUNNING
    """
    client = make_client()
    params: dict[str, Any] = {"connector_id": connector_id, "max_results": 100}
    if status:
        params["status"] = status
    found = list(api_pages(client.list_custom_connector_jobs, "jobs", max_items, **params))
    if as_json:
        print_json(found)
        return
    print_table(_JOB_COLUMNS, [_job_row(job) for job in found])


# -- ccf documents list --connector ------------------------------------------------------------
