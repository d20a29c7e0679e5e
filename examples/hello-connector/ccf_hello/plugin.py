"""The module the ``hello`` entry point names: it registers the connector through a hook."""

from ccf_core import hookimpl
from ccf_core.registry import ConnectorRegistry
from ccf_hello.connector import HelloConnector


@hookimpl
def ccf_register_connectors(registry: ConnectorRegistry) -> None:
    """Register the hello connector."""
    registry.register(HelloConnector)
