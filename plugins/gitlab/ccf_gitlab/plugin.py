"""The module the ``gitlab`` entry point names: it registers the connector through a hook."""

from ccf_core import hookimpl
from ccf_core.registry import ConnectorRegistry
from ccf_gitlab.connector import GitLabConnector


@hookimpl
def ccf_register_connectors(registry: ConnectorRegistry) -> None:
    """Register the GitLab connector."""
    registry.register(GitLabConnector)
