"""The ccf web crawler connector: websites crawled into Amazon Q Business (or the local index)."""

from ccf_webcrawler.config import WebCrawlerConfig
from ccf_webcrawler.connector import WebCrawlerConnector

__all__ = ["WebCrawlerConfig", "WebCrawlerConnector"]
