"""``ccf backend serve``: the CCF API on this machine, with its data in a folder and jobs that run.

The same Lambda handler as in AWS behind a small HTTP server (:mod:`ccf_backend.local_server`),
its data in ``DATA/backend.db`` (SQLite: a restart keeps connectors, jobs and document
checksums), and started jobs run as subprocesses by the local executor
(:mod:`ccf_backend.local_executor`).
"""

from __future__ import annotations

import errno
import importlib
import signal
import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_DATA = Path(".ccf") / "backend"


def _import_local_server() -> Any:
    """``ccf_backend.local_server``, from the installed package or this checkout's infrastructure/."""
    try:
        return importlib.import_module("ccf_backend.local_server")
    except ImportError:
        checkout = Path(__file__).resolve().parents[2] / "infrastructure"
        if not (checkout / "ccf_backend").is_dir():
            raise click.ClickException("the CCF backend package (ccf_backend) is not installed") from None
        sys.path.insert(0, str(checkout))
        return importlib.import_module("ccf_backend.local_server")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@click.group()
def backend() -> None:
    """Run the CCF backend locally."""


@backend.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8000,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA,
    show_default=True,
    help="Folder for the database (backend.db), job logs and local indexes (jobs/<connector>/).",
)
@click.option(
    "--token",
    envvar="CCF_API_TOKEN",
    metavar="TOKEN",
    help="Require this bearer token of every client (ccf --token / CCF_API_TOKEN). Env: CCF_API_TOKEN.",
)
@click.option("--insecure", is_flag=True, help="Allow a --host other machines can reach without a --token.")
@click.option(
    "--stop-grace-seconds",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="How long a stopped job has between SIGTERM and SIGKILL.",
)
@click.option(
    "--fake-jobs",
    "fake_job_seconds",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Run nothing: jobs go STARTED -> RUNNING -> SUCCEEDED after SECONDS (stopped ones STOPPED).",
)
@click.option("--no-jobs", is_flag=True, help="Leave jobs as the API left them (nothing runs them).")
def serve(
    *,
    host: str,
    port: int,
    data_dir: Path,
    token: str | None,
    insecure: bool,
    stop_grace_seconds: float,
    fake_job_seconds: float | None,
    no_jobs: bool,
) -> None:
    """Serve the CCF API on HOST:PORT and run its jobs; prints its URL first.

    The same Lambda handler as in AWS, fed API Gateway events with a fake identity (account
    123456789012); requests are not signature-checked. A started job runs `ccf-run --connector
    TYPE --state api` as a subprocess, with the environment AWS Batch would give it; its output
    goes to DATA/jobs/<connector>/<job>.log (`ccf jobs logs`). Jobs that were running when a
    previous server died are closed as FAILED on start.

    \b
    Example:
      ccf backend serve --port 8000 --data .ccf/backend
    """
    local_server = _import_local_server()
    jobs = "none" if no_jobs else "fake" if fake_job_seconds is not None else "local"
    try:
        running = local_server.serve(
            host,
            port,
            data_dir=data_dir,
            jobs=jobs,
            fake_job_seconds=fake_job_seconds or 0.0,
            token=token,
            insecure=insecure,
            stop_grace_seconds=stop_grace_seconds,
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another `ccf backend serve`?): "
                "choose another with --port PORT, or --port 0 for a free one"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {err.strerror or err}; choose another --host or --port"
        ) from None
    # SIGTERM (a service manager, `kill`) stops as Ctrl-C does: jobs stopped and closed, data flushed.
    signal.signal(signal.SIGTERM, _interrupt)
    click.echo(running.endpoint_url)
    sys.stdout.flush()
    click.echo(
        f"CCF API at {running.endpoint_url}, data in {data_dir} (try: ccf connectors list "
        f"--endpoint-url {running.endpoint_url}). Ctrl-C to stop.",
        err=True,
    )
    try:
        running.wait()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
