"""The subcommands of ``ccf``, one module per group; :mod:`ccf_runner.ccf_cli` assembles them."""

from ccf_runner.commands.documents import documents
from ccf_runner.commands.search import search
from ccf_runner.commands.state import state

__all__ = ["documents", "search", "state"]
