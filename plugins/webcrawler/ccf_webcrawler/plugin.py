"""The module the ``webcrawler`` entry point names: it registers the connector through a hook."""

from ccf_core import hookimpl
from ccf_core.registry import ConnectorRegistry
from ccf_webcrawler.connector import WebCrawlerConnector


@hookimpl
def ccf_register_connectors(registry: ConnectorRegistry) -> None:
    """Register the web crawler connector."""
    registry.register(WebCrawlerConnector)
