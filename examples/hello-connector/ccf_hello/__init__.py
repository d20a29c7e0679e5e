"""An example ccf connector plugin: files in a folder become documents."""

from ccf_hello.connector import HelloConfig, HelloConnector

__all__ = ["HelloConfig", "HelloConnector"]
