"""``ccf``: inspect and search what ``ccf-run`` wrote locally (later: manage connectors and jobs).

Each subgroup lives in its own module under :mod:`ccf_runner.commands` and is added here, so a new
group (``connectors``, ``jobs``, ``backend``) is one module and one ``add_command`` line.
"""

from __future__ import annotations

import click

from ccf_runner.commands import documents, search, state


@click.group(name="ccf", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """Search the local index and inspect documents and sync state written by ccf-run."""


main.add_command(search)
main.add_command(documents)
main.add_command(state)
