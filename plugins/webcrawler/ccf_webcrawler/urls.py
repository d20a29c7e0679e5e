"""URL normalisation and the crawl's scope: which URLs are one page, and which may be fetched.

Normalising makes one page one document: the scheme and host are lower-cased, default ports and
fragments dropped, percent-escapes written in one case, unreserved characters unescaped, dot
segments resolved, query parameters sorted (tracking ones removed), and the trailing slash treated
as configured.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote_to_bytes, urlencode, urljoin, urlsplit, urlunsplit

from ccf_webcrawler.config import WebCrawlerConfig

#: Q Business's document id limit (BatchPutDocument ``Document.id``).
MAX_DOCUMENT_ID = 1825

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = "/?:@!$'()*+,;-._~%"

#: Extensions of files that are never documents: not fetched at all.
SKIPPED_EXTENSIONS = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff",
        "mp3", "mp4", "m4a", "wav", "ogg", "webm", "avi", "mov", "mkv",
        "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "dmg", "iso", "exe", "msi", "deb", "rpm",
        "css", "js", "mjs", "woff", "woff2", "ttf", "otf", "eot", "map", "wasm",
    }
)  # fmt: skip


def _normalise_path(path: str, trailing_slash: str) -> str:
    if not path:
        return "/"
    had_slash = path.endswith("/")
    # Decode then re-encode so %7E and ~, %2f and %2F are one spelling; %2F stays encoded.
    safe = _SAFE_PATH.replace("%", "").replace("/", "")
    segments = [quote(unquote_to_bytes(part), safe=safe) for part in path.split("/")]
    path = "/".join(segments)
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if resolved == ".":
        resolved = "/"
    if had_slash and not resolved.endswith("/"):
        resolved += "/"
    if trailing_slash == "strip" and resolved != "/" and resolved.endswith("/"):
        resolved = resolved.rstrip("/") or "/"
    return resolved


def _normalise_query(query: str, ignored: Iterable[str]) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    patterns = list(ignored)
    kept = [(k, v) for k, v in pairs if not any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    kept.sort()
    return urlencode(kept, safe=_SAFE_QUERY.replace("%", ""), quote_via=quote)


def normalise_url(
    url: str,
    *,
    base: str | None = None,
    trailing_slash: str = "keep",
    ignored_parameters: Iterable[str] = (),
) -> str | None:
    """The one spelling of a URL (resolved against ``base``), or None when it is not http(s).

    Args:
        url: the URL as written (a link's ``href``, a redirect's ``Location``).
        base: the URL it is relative to.
        trailing_slash: ``keep`` or ``strip`` (see :class:`WebCrawlerConfig`).
        ignored_parameters: shell-style patterns of query parameters to drop.
    """
    url = url.strip()
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    # Navigation links repeat on every page of a site: a cache saves most of the work.
    return _normalise(url, trailing_slash, tuple(ignored_parameters))


@lru_cache(maxsize=16384)
def _normalise(url: str, trailing_slash: str, ignored_parameters: tuple[str, ...]) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        host = parts.hostname.lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalise_path(parts.path, trailing_slash)
    query = _normalise_query(parts.query, ignored_parameters)
    return urlunsplit((scheme, netloc, path, query, ""))


def document_id(url: str) -> str:
    """The document id of a normalised URL: the URL itself, hashed at the end when too long."""
    if len(url) <= MAX_DOCUMENT_ID:
        return url
    digest = hashlib.sha256(url.encode()).hexdigest()
    return f"{url[: MAX_DOCUMENT_ID - len(digest) - 8]}#sha256:{digest}"


def origin(url: str) -> str:
    """``scheme://host[:port]/``: the prefix every document id of that site starts with."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def extension(url: str) -> str:
    """The lower-case extension of the URL's last path segment ('' when none)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


@dataclass(frozen=True)
class Scope:
    """Which normalised URLs the crawl may fetch (domains, patterns, length, file types)."""

    domains: tuple[str, ...]
    exact_hosts: tuple[str, ...]
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    max_url_length: int

    @classmethod
    def from_config(cls, config: WebCrawlerConfig) -> Scope:
        """The scope a config describes (default domains: the hosts of the start URLs and sitemaps)."""
        names = config.allowed_domains or [
            f"={urlsplit(url).hostname or ''}" for url in [*config.start_urls, *config.sitemap_urls]
        ]
        domains = tuple(n.lower().strip(".") for n in names if not n.startswith("="))
        exact = tuple(n[1:].lower().strip(".") for n in names if n.startswith("="))
        return cls(
            domains=domains,
            exact_hosts=exact,
            include=tuple(re.compile(p) for p in config.include_patterns),
            exclude=tuple(re.compile(p) for p in config.exclude_patterns),
            max_url_length=config.max_url_length,
        )

    def host_allowed(self, url: str) -> bool:
        """True when the URL's host is one of the allowed domains (or a subdomain of one)."""
        host = (urlsplit(url).hostname or "").lower()
        if host in self.exact_hosts:
            return True
        return any(host == domain or host.endswith("." + domain) for domain in self.domains)

    def refusal(self, url: str, *, seed: bool = False) -> str | None:
        """Why the URL is out of scope, or None when it may be fetched.

        Start URLs (``seed``) skip the include patterns, so a pattern cannot exclude the entry page.
        """
        if not self.host_allowed(url):
            return "outside the allowed domains"
        if len(url) > self.max_url_length:
            return f"longer than max_url_length ({self.max_url_length})"
        if extension(url) in SKIPPED_EXTENSIONS:
            return "a file type that is never indexed"
        if any(p.search(url) for p in self.exclude):
            return "matches exclude_patterns"
        if self.include and not seed and not any(p.search(url) for p in self.include):
            return "matches no include_patterns"
        return None
