"""The web crawler's settings: one pydantic model, documented field by field.

Every list field also accepts one comma-separated string, so ``--set start_urls=https://a/,https://b/``
and ``CCF_WEBCRAWLER_START_URLS=https://a/,https://b/`` work.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ccf_core import ContentType

#: The content types indexed unless ``content_types`` says otherwise (what an intranet holds).
DEFAULT_CONTENT_TYPES = [
    ContentType.HTML,
    ContentType.PDF,
    ContentType.MS_WORD,
    ContentType.PPT,
    ContentType.MS_EXCEL,
    ContentType.PLAIN_TEXT,
    ContentType.MD,
    ContentType.CSV,
    ContentType.JSON,
    ContentType.XML,
]

#: Query parameters that only track visitors; dropped so one page is one document.
DEFAULT_IGNORED_PARAMETERS = ["utm_*", "gclid", "fbclid", "mc_cid", "mc_eid", "_ga"]

DEFAULT_USER_AGENT = "ccf-webcrawler/0.1"

_LIST_FIELDS = (
    "start_urls",
    "sitemap_urls",
    "allowed_domains",
    "include_patterns",
    "exclude_patterns",
    "content_types",
    "ignore_query_parameters",
)


def _split_commas(value: Any) -> Any:
    """``"a, b"`` -> ``["a", "b"]``; lists and other values pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class WebCrawlerConfig(BaseModel):
    """Settings of the web crawler connector."""

    model_config = ConfigDict(extra="forbid")

    start_urls: list[str] = Field(
        default_factory=list,
        description="Pages the crawl starts from (http or https). Links are followed from here.",
    )
    sitemap_urls: list[str] = Field(
        default_factory=list,
        description="Sitemaps (XML, sitemap indexes, .gz) whose URLs are crawled as start pages. "
        "Sitemaps named in the robots.txt of the start hosts are read too (see discover_sitemaps).",
    )
    discover_sitemaps: bool = Field(
        default=True, description="Read the sitemaps listed in the robots.txt of each start host."
    )
    allowed_domains: list[str] = Field(
        default_factory=list,
        description="Hosts the crawler may fetch from; `example.com` also allows its subdomains, "
        "`=example.com` only that host. Default: the hosts of start_urls and sitemap_urls.",
    )
    include_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions; when given, only URLs matching one of them are fetched "
        "(start URLs always are).",
    )
    exclude_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions; URLs matching one of them are never fetched.",
    )
    max_depth: int = Field(
        default=10, ge=0, description="Links followed from a start page at most (0: the start pages only)."
    )
    max_pages: int = Field(default=100_000, ge=1, description="Pages fetched at most in one run.")
    concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Requests in flight at once, in total. Lower it (or set requests_per_second) for a "
        "small server.",
    )
    requests_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Requests started per second and host at most (e.g. 5 for a fragile server). "
        "Default: no rate, only concurrency bounds the load; a robots.txt Crawl-delay always applies.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one request (connect and read)."
    )
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a transient failure (timeout, 429, 5xx) per URL."
    )
    retry_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Longest first retry delay, doubled for each further retry up to 120 s; each "
        "wait is random below it (full jitter). A 429's Retry-After wins when it asks for longer.",
    )
    user_agent: str = Field(
        default=DEFAULT_USER_AGENT, min_length=1, description="User-Agent header; also the robots.txt agent."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra request headers (e.g. Authorization). A value may be a reference resolved "
        "at run time: `env:NAME` (environment variable), `arn:aws:secretsmanager:...` or "
        "`arn:aws:ssm:...` (optionally `#json-key`). Values never appear in logs or reports.",
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of extra certificate authorities to trust (an intranet's own CA), "
        "besides the public ones.",
    )
    respect_robots_txt: bool = Field(
        default=True, description="Obey robots.txt rules for user_agent, including Crawl-delay."
    )
    allow_private_networks: bool | list[str] = Field(
        default=False,
        description="Fetch private, loopback and link-local addresses: true for all, or a list of "
        "networks (CIDR, e.g. 10.20.0.0/16). Default false: such addresses are refused.",
    )
    content_types: list[ContentType] = Field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES),
        description="Q Business content types to index (HTML, PDF, MS_WORD, PPT, MS_EXCEL, PLAIN_TEXT, "
        "MD, CSV, JSON, XML, RTF, XSLT). Links of HTML pages are followed even when HTML is not indexed.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=50 * 1024 * 1024,
        description="Largest response body downloaded; larger ones are reported and skipped.",
    )
    max_url_length: int = Field(
        default=1024, ge=32, le=8192, description="Longer URLs are not followed (crawler traps)."
    )
    max_redirects: int = Field(default=10, ge=0, le=30, description="Redirects followed per URL at most.")
    trailing_slash: Literal["keep", "strip"] = Field(
        default="keep",
        description="`strip` treats /docs/ and /docs as one page (the slash of / is kept); `keep` "
        "leaves paths as linked.",
    )
    ignore_query_parameters: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORED_PARAMETERS),
        description="Query parameters removed from URLs (shell-style patterns such as utm_*).",
    )

    @field_validator(*_LIST_FIELDS, mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("allow_private_networks", mode="before")
    @classmethod
    def _private_networks(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in {"true", "false", "yes", "no", "1", "0"}:
            return _split_commas(value)
        return value

    @field_validator("allow_private_networks")
    @classmethod
    def _valid_networks(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            for network in value:
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError:
                    raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8") from None
        return value

    @field_validator("start_urls", "sitemap_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"https?://[^/?#]+", url, re.IGNORECASE):
                raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return value

    @field_validator("include_patterns", "exclude_patterns")
    @classmethod
    def _regular_expressions(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"{pattern!r} is not a regular expression: {err}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
        return value

    @model_validator(mode="after")
    def _something_to_crawl(self) -> WebCrawlerConfig:
        if not self.start_urls and not self.sitemap_urls:
            raise ValueError("give start_urls or sitemap_urls (the pages the crawl starts from)")
        return self
