"""``ccf``: search and inspect what ``ccf-run`` wrote locally; manage connectors and jobs in the CCF API.

Each subgroup lives in its own module under :mod:`ccf_runner.commands` and is added here, so a new
group (``connectors``, ``jobs``, ``backend``) is one module and one ``add_command`` line.
"""

from __future__ import annotations

import click

from ccf_runner.commands import documents, search, state
from ccf_runner.commands.api import checkpoint, connectors
from ccf_runner.commands.jobs import jobs
from ccf_runner.commands.serve import backend


@click.group(name="ccf", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="ccf-framework", prog_name="ccf", message="%(prog)s %(version)s")
def main() -> None:
    """Search the local index, inspect what ccf-run wrote, and manage connectors and jobs in the CCF API."""


main.add_command(search)
main.add_command(documents)
main.add_command(state)
main.add_command(connectors)
main.add_command(jobs)
main.add_command(checkpoint)
main.add_command(backend)
