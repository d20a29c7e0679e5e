"""Fetching: httpx transports (HTTP/1.1 and HTTP/2, pooled connections), per-host pacing, retries.

Redirects are followed here, hop by hop, so that every hop passes the same gate as a link (allowed
domains, robots.txt, address policy) and a loop is caught. Transient failures (timeouts, connection
errors, 429 and 5xx) are retried with exponential backoff and jitter, honouring ``Retry-After``.
Bodies are streamed and capped at ``max_body_bytes``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

from ccf_core import CCFError
from ccf_core.retry import Backoff
from ccf_webcrawler.config import WebCrawlerConfig
from ccf_webcrawler.lanes import LaneTransport
from ccf_webcrawler.refusals import Refusal, RefusalKind
from ccf_webcrawler.safety import AddressPolicy, AddressRefused, GuardedNetworkBackend
from ccf_webcrawler.urls import normalise_url

logger = logging.getLogger(__name__)
# httpx logs every request at INFO: thousands of lines per crawl. Quieter unless asked for.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)

#: Statuses after which a page is gone for good: its indexed copy is removed.
GONE_STATUSES = frozenset({404, 410})
#: Longest Retry-After honoured; a server asking for more is retried after this.
MAX_RETRY_AFTER = 120.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Bodies up to this size are read (and dropped) to keep the connection alive.
_DRAIN_LIMIT = 64 * 1024
#: Idle connections each request lane keeps alive (to other sites than its current one).
_LANE_KEEPALIVE = 2

#: Answers ``None`` when a URL may be fetched, else why it may not.
Gate = Callable[[str], Awaitable[Refusal | None]]
#: Answers whether a response of this ``Content-Type`` at this URL is worth downloading.
Wanted = Callable[[str, str], bool]


class CrawlSettingsError(CCFError):
    """A setting that only shows its problem when the crawl starts (a CA file that cannot be read)."""


class Outcome(StrEnum):
    """What became of one fetch."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    GONE = "gone"
    FAILED = "failed"
    REFUSED = "refused"
    UNWANTED = "unwanted"


@dataclass(frozen=True)
class Validators:
    """The ``ETag`` and ``Last-Modified`` of a page, sent back as a conditional request."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` headers (empty when nothing is known)."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass
class FetchResult:
    """The outcome of fetching one URL (after redirects)."""

    url: str
    outcome: Outcome
    final_url: str
    status: int = 0
    content_type: str = ""
    body: bytes = b""
    validators: Validators = field(default_factory=Validators)
    last_modified: datetime | None = None
    reason: str = ""
    #: With ``REFUSED``: why, as a kind the crawl acts on.
    refusal: Refusal | None = None

    @classmethod
    def refused(cls, url: str, final_url: str, refusal: Refusal) -> FetchResult:
        """The result of a URL (or one of its redirect hops) that may not be fetched."""
        return cls(url, Outcome.REFUSED, final_url, reason=refusal.reason, refusal=refusal)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Last-Modified``) as an aware datetime, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retry_after_seconds(value: str | None) -> float | None:
    """The delay a ``Retry-After`` header asks for (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    when = parse_http_date(value)
    if when is None:
        return None
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


class HostPacer:
    """Spaces the requests to each host: ``1 / requests_per_second``, or the robots.txt Crawl-delay."""

    def __init__(self, requests_per_second: float | None) -> None:
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next: dict[str, float] = {}
        self._delays: dict[str, float] = {}

    @property
    def active(self) -> bool:
        """True when some host is paced (a rate, or a Crawl-delay)."""
        return bool(self.interval or self._delays)

    def set_delay(self, host: str, seconds: float) -> None:
        """Use at least ``seconds`` between two requests to ``host``."""
        self._delays[host] = max(seconds, 0.0)

    async def wait(self, host: str) -> None:
        """Return when the next request to ``host`` may start (its slot is taken at once)."""
        now = time.monotonic()
        interval = max(self.interval, self._delays.get(host, 0.0))
        if not interval:
            return
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def _drain(response: httpx.Response, limit: int = _DRAIN_LIMIT) -> None:
    """Read a small body to its end so the connection goes back to the pool (a 304, a redirect, an
    error page); a large one is left unread and its connection closed instead."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            return


_E = TypeVar("_E", bound=BaseException)


def _cause(error: BaseException, kind: type[_E]) -> _E | None:
    """The exception of ``kind`` behind ``error`` (an address refused at connect time, a certificate
    not trusted), found through the chain of causes httpx and httpcore keep."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _Transient(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Fetcher:
    """Fetches URLs for one crawl. Use ``async with Fetcher(...)``.

    Args:
        config: the crawler's settings.
        headers: the extra request headers, secret references already resolved.
        policy: the address policy enforced at connect time.
    """

    def __init__(self, config: WebCrawlerConfig, headers: Mapping[str, str], policy: AddressPolicy) -> None:
        self.config = config
        self.pacer = HostPacer(config.requests_per_second)
        self.backoff = Backoff(config.retry_backoff_seconds, cap=MAX_RETRY_AFTER)
        # One TLS context for every lane: loading the CA certificates costs tens of milliseconds each.
        verify = httpx.create_ssl_context()
        if config.ca_bundle is not None:
            try:
                verify.load_verify_locations(cafile=str(config.ca_bundle))
            except (OSError, ssl.SSLError) as err:
                raise CrawlSettingsError(f"ca_bundle: cannot read {config.ca_bundle}: {err}") from None
        backend = GuardedNetworkBackend(policy)

        def lane() -> httpx.AsyncHTTPTransport:
            # A lane runs one request at a time: its pool holds that connection and, for a crawl of
            # several sites, a few kept alive to the others.
            transport = httpx.AsyncHTTPTransport(
                verify=verify,
                http2=True,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=_LANE_KEEPALIVE),
            )
            pool = getattr(transport, "_pool", None)
            if isinstance(pool, httpcore.AsyncConnectionPool):
                pool._network_backend = backend
            else:  # pragma: no cover - a future httpx; the per-URL resolution check still applies
                logger.warning("httpx changed its transport; addresses are checked before requests only")
            return transport

        # Requests go to the transport itself, not through an httpx.AsyncClient: the client's
        # URL merging, cookie jar, auth and redirect machinery cost a quarter of the CPU time of a
        # 304, and the crawler needs none of them (it follows redirects itself, hop by hop).
        self.transport = LaneTransport(config.concurrency, lane)
        self.headers = httpx.Headers(
            {
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
                "Connection": "keep-alive",
                "User-Agent": config.user_agent,
                **headers,
            }
        )
        seconds = config.timeout_seconds
        self._timeout = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.transport.aclose()

    async def _send(self, url: str, validators: Validators) -> httpx.Response:
        """Send a GET (conditional when ``validators`` has any) and return the streamed response."""
        headers = self.headers.copy()
        if validators:
            headers.update(validators.headers())
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": self._timeout})
        response = await self.transport.handle_async_request(request)
        response.request = request
        return response

    def _normalise(self, url: str, base: str) -> str | None:
        return normalise_url(
            url,
            base=base,
            trailing_slash=self.config.trailing_slash,
            ignored_parameters=self.config.ignore_query_parameters,
        )

    async def fetch(
        self,
        url: str,
        *,
        gate: Gate,
        wanted: Wanted,
        validators: Callable[[str], Validators],
    ) -> FetchResult:
        """Fetch ``url`` (already normalised and allowed by ``gate``), following redirects.

        Args:
            url: the URL.
            gate: checks every redirect target (domains, robots.txt, addresses).
            wanted: whether a response's content type is worth its body.
            validators: the validators known for a URL (conditional request when not empty).
        """
        current = url
        visited = {url}
        for _ in range(self.config.max_redirects + 1):
            result, location = await self._fetch_one(url, current, wanted, validators(current))
            if location is None:
                return result
            target = self._normalise(location, current)
            if target is None:
                non_http = Refusal(RefusalKind.SCOPE, f"redirect to a non-http URL: {location}")
                return FetchResult.refused(url, current, non_http)
            if target in visited:
                return FetchResult(url, Outcome.FAILED, current, reason=f"redirect loop through {target}")
            refusal = await gate(target)
            if refusal is not None:
                return FetchResult.refused(url, target, refusal.through_redirect(target))
            visited.add(target)
            current = target
        return FetchResult(
            url, Outcome.FAILED, current, reason=f"more than {self.config.max_redirects} redirects"
        )

    async def get(self, url: str, *, gate: Gate) -> FetchResult:
        """Fetch an auxiliary file (robots.txt, a sitemap): any content type, redirects followed."""
        return await self.fetch(
            url, gate=gate, wanted=lambda _t, _u: True, validators=lambda _u: Validators()
        )

    async def _fetch_one(
        self, url: str, current: str, wanted: Wanted, validators: Validators
    ) -> tuple[FetchResult, str | None]:
        """One hop, retried while transient; ``(result, redirect location or None)``."""
        attempt = 0
        while True:
            try:
                return await self._attempt(url, current, wanted, validators)
            except _Transient as err:
                if attempt >= self.config.max_retries:
                    tries = attempt + 1
                    return FetchResult(
                        url, Outcome.FAILED, current, reason=f"{err.reason} ({tries} tries)"
                    ), None
                backoff = self.backoff.delay(attempt)
                delay = max(backoff, err.delay) if err.delay is not None else backoff
                logger.info("retrying %s in %.1f s after %s", current, delay, err.reason)
                await asyncio.sleep(delay)
                attempt += 1

    async def _attempt(
        self, url: str, current: str, wanted: Wanted, validators: Validators
    ) -> tuple[FetchResult, str | None]:
        if self.pacer.active:
            await self.pacer.wait(urlsplit(current).netloc)
        try:
            response = await self._send(current, validators)
            try:
                return await self._read(url, current, response, wanted)
            finally:
                await response.aclose()
        except httpx.ConnectError as err:
            refused = _cause(err, AddressRefused)
            if refused is not None:
                return FetchResult.refused(url, current, Refusal(RefusalKind.ADDRESS, str(refused))), None
            if _cause(err, ssl.SSLCertVerificationError) is not None:
                # Retrying cannot fix a certificate; an intranet's own CA goes in ca_bundle.
                reason = f"TLS certificate not trusted ({err}); if it is signed by your own CA, set ca_bundle"
                return FetchResult(url, Outcome.FAILED, current, reason=reason), None
            raise _Transient(f"cannot connect: {err}") from None
        except httpx.TimeoutException:
            raise _Transient(f"timed out after {self.config.timeout_seconds:g} s") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as err:
            raise _Transient(f"connection failed: {type(err).__name__}: {err}") from None

    async def _read(  # noqa: PLR0911 - one return per kind of answer reads best here
        self, url: str, current: str, response: httpx.Response, wanted: Wanted
    ) -> tuple[FetchResult, str | None]:
        status = response.status_code
        if status != 200:
            await _drain(response)
        if status in _REDIRECTS and "location" in response.headers:
            return FetchResult(url, Outcome.OK, current, status=status), response.headers["location"]
        if status == 304:
            return FetchResult(url, Outcome.NOT_MODIFIED, current, status=status), None
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", retry_after_seconds(response.headers.get("retry-after")))
        if status in GONE_STATUSES:
            return FetchResult(url, Outcome.GONE, current, status=status, reason=f"HTTP {status}"), None
        if status != 200:
            return FetchResult(url, Outcome.FAILED, current, status=status, reason=f"HTTP {status}"), None
        content_type = response.headers.get("content-type", "")
        if not wanted(content_type, current):
            return FetchResult(
                url,
                Outcome.UNWANTED,
                current,
                status=status,
                content_type=content_type,
                reason=f"content type {content_type.split(';')[0] or '(none)'} is not indexed",
            ), None
        limit = self.config.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return self._too_large(url, current, status), None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                return self._too_large(url, current, status), None
            chunks.append(chunk)
        last_modified = response.headers.get("last-modified")
        return FetchResult(
            url,
            Outcome.OK,
            current,
            status=status,
            content_type=content_type,
            body=b"".join(chunks),
            validators=Validators(response.headers.get("etag"), last_modified),
            last_modified=parse_http_date(last_modified),
        ), None

    def _too_large(self, url: str, current: str, status: int) -> FetchResult:
        return FetchResult(
            url,
            Outcome.FAILED,
            current,
            status=status,
            reason=f"body larger than max_body_bytes ({self.config.max_body_bytes} bytes)",
        )
