"""The crawl itself (asyncio): a frontier of URLs by depth, workers fetching them, results out.

The frontier and the seen-set hold URLs and depths only; a page body lives from its download until
the consumer has turned it into a document (the output queue is bounded, so a slow consumer slows
the crawl instead of filling memory).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import json
import logging
import queue
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ccf_core import ContentType
from ccf_core.content_types import content_type_from_mime, content_type_from_path
from ccf_webcrawler.config import WebCrawlerConfig
from ccf_webcrawler.fetch import Fetcher, FetchResult, Outcome, Validators
from ccf_webcrawler.html import parse_page
from ccf_webcrawler.records import PageRecord
from ccf_webcrawler.refusals import Refusal, RefusalKind, scope_refusal
from ccf_webcrawler.robots import RobotsCache
from ccf_webcrawler.safety import AddressPolicy, AddressRefused
from ccf_webcrawler.sitemaps import SitemapError, parse_sitemap
from ccf_webcrawler.urls import Scope, document_id, normalise_url, origin

logger = logging.getLogger(__name__)

_HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})
_GENERIC_MIMES = frozenset({"", "application/octet-stream", "binary/octet-stream", "text/plain"})
#: Sitemap indexes nested deeper than this are not followed.
MAX_SITEMAP_NESTING = 3
#: Unchanged pages handed to the connector at once.
UNCHANGED_BATCH = 64


def content_type_of(mime: str, url: str) -> ContentType | None:
    """The Q Business content type of a response: its MIME type, or the URL's extension when the
    MIME type is generic (``text/plain`` for a ``.md`` file, ``application/octet-stream``)."""
    base = mime.split(";", 1)[0].strip().lower()
    by_mime = content_type_from_mime(base)
    if base in _GENERIC_MIMES:
        by_path = content_type_from_path(urlsplit(url).path)
        if by_path is not None:
            return by_path
    return by_mime


def scope_fingerprint(config: WebCrawlerConfig) -> str:
    """A hash of the settings that decide which links a page record keeps."""
    fields = config.model_dump(
        include={
            "allowed_domains",
            "start_urls",
            "sitemap_urls",
            "include_patterns",
            "exclude_patterns",
            "max_url_length",
            "trailing_slash",
            "ignore_query_parameters",
            "content_types",
        },
        mode="json",
    )
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


# -- what the crawl hands to the connector -------------------------------------------------------


@dataclass
class Fetched:
    """A page downloaded in full that should become a document."""

    url: str
    depth: int
    result: FetchResult
    content_type: ContentType
    title: str


@dataclass
class Unchanged:
    """A document the server answered 304 Not Modified for."""

    url: str
    depth: int
    record: PageRecord


@dataclass
class UnchangedPages:
    """Pages answered 304, handed over together: one queue item, and one wake-up of the connector's
    thread (and hand-over of the interpreter lock), for up to :data:`UNCHANGED_BATCH` pages."""

    pages: list[Unchanged]


@dataclass
class Keep:
    """An indexed document (or, with ``prefix``, a whole site) to keep although not listed."""

    document_id: str
    reason: str
    prefix: bool = False


@dataclass
class Finished:
    """The end of the crawl: the records for the next checkpoint, or the error that stopped it.

    ``failures`` are ``(url, reason)`` of pages and sitemaps that could not be fetched;
    ``unreadable_sites`` are ``(origin, reason)`` of sites whose robots.txt could not be read (a
    site that is down), whose indexed pages are all kept.
    """

    records: dict[str, PageRecord] = field(default_factory=dict)
    keep: list[Keep] = field(default_factory=list)
    error: BaseException | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    unreadable_sites: list[tuple[str, str]] = field(default_factory=list)
    fetched: int = 0


Item = Fetched | UnchangedPages | Finished


class Crawl:
    """One crawl of the configured sites.

    Args:
        config: the settings.
        headers: extra request headers (secret references resolved).
        previous: the page records of the last completed run.
        output: where items go (read by the connector in its own thread).
    """

    def __init__(
        self,
        config: WebCrawlerConfig,
        headers: Mapping[str, str],
        previous: Mapping[str, PageRecord],
        output: queue.Queue[Item],
    ) -> None:
        self.config = config
        self.headers = dict(headers)
        self.previous = previous
        self.output = output
        self.scope = Scope.from_config(config)
        self.policy = AddressPolicy(config.allow_private_networks)
        self.records: dict[str, PageRecord] = {}
        self.failures: list[tuple[str, str]] = []
        self.keep: list[Keep] = []
        self.fetched = 0
        self.stopping = False
        self.closed = False
        self._frontier: list[tuple[int, int, str, bool]] = []
        self._depths: dict[str, int] = {}
        self._done: set[str] = set()
        self._order = itertools.count()
        self._in_flight = 0
        self._wake: asyncio.Condition | None = None
        self._resolved: dict[str, Refusal | None] = {}
        self._kept_sites: set[str] = set()
        self._truncated = 0
        self._unchanged_pages: list[Unchanged] = []
        self.fetcher: Fetcher | None = None
        self.robots: RobotsCache | None = None

    # -- plumbing --------------------------------------------------------------------------

    def _normalise(self, url: str, base: str | None = None) -> str | None:
        return normalise_url(
            url,
            base=base,
            trailing_slash=self.config.trailing_slash,
            ignored_parameters=self.config.ignore_query_parameters,
        )

    async def _emit(self, item: Item) -> None:
        # The connector's thread drains the queue; waiting here is the crawl's back-pressure. The
        # wait grows (2 ms to 50 ms): a slow destination does not wake the loop 500 times a second.
        pause = 0.002
        while True:
            try:
                self.output.put_nowait(item)
                return
            except queue.Full:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)

    async def _flush_unchanged(self) -> None:
        pages, self._unchanged_pages = self._unchanged_pages, []
        if pages:
            await self._emit(UnchangedPages(pages))

    async def run(self) -> None:
        """Crawl until the frontier is empty (or ``stopping``); always ends with :class:`Finished`."""
        finished = Finished()
        try:
            async with Fetcher(self.config, self.headers, self.policy) as fetcher:
                self.fetcher = fetcher
                self.robots = RobotsCache(fetcher, self.config.user_agent)
                self._wake = asyncio.Condition()
                await self._seed()
                workers = [asyncio.create_task(self._worker()) for _ in range(self.config.concurrency)]
                try:
                    await asyncio.gather(*workers)
                finally:
                    # A worker that failed ends the crawl: the others stop before the client closes.
                    for worker in workers:
                        worker.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
            self.closed = True
            await self._flush_unchanged()
            if self._truncated:
                logger.warning(
                    "max_pages (%d) reached: %d more URLs were found but not fetched",
                    self.config.max_pages,
                    self._truncated,
                )
        except Exception as err:
            finished.error = err
        if self.robots is not None:
            # Such a site was not crawled (or its sitemaps not read): none of its pages is gone.
            for site, reason in self.robots.unreadable.items():
                self._keep_site(site, f"robots.txt could not be read ({reason})")
            finished.unreadable_sites = list(self.robots.unreadable.items())
        finished.records = self.records
        finished.keep = self.keep
        finished.failures = self.failures
        finished.fetched = self.fetched
        await self._emit(finished)

    async def refetch(self, url: str) -> FetchResult:
        """Download ``url`` in full (no conditional request), during or after the crawl."""
        if self.fetcher is not None and not self.closed:
            return await self.fetcher.fetch(
                url, gate=self.gate, wanted=self._wanted, validators=lambda _url: Validators()
            )
        async with Fetcher(self.config, self.headers, self.policy) as fetcher:
            return await fetcher.fetch(
                url, gate=self._gate_without_robots, wanted=self._wanted, validators=lambda _url: Validators()
            )

    def as_fetched(self, url: str, depth: int, result: FetchResult) -> Fetched | None:
        """The document-to-be of a downloaded page, or None when its type is not indexed."""
        content_type = self._content_type(url, result)
        if content_type is None or content_type not in self.config.content_types:
            return None
        title = parse_page(url, result.body).title if content_type is ContentType.HTML else ""
        return Fetched(url, depth, result, content_type, title)

    def _content_type(self, url: str, result: FetchResult) -> ContentType | None:
        mime = result.content_type.split(";", 1)[0].strip().lower()
        return ContentType.HTML if mime in _HTML_MIMES else content_type_of(result.content_type, url)

    # -- the gate: may this URL be fetched? ----------------------------------------------------

    async def _address_refusal(self, url: str) -> Refusal | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in self._resolved:
            try:
                await self.policy.resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
                self._resolved[host] = None
            except AddressRefused as err:
                self._resolved[host] = Refusal(RefusalKind.ADDRESS, str(err))
            except OSError:
                return None  # the fetch reports the name that does not resolve, with retries
        return self._resolved[host]

    async def gate(self, url: str) -> Refusal | None:
        """Why ``url`` may not be fetched (domains, addresses, robots.txt), or None."""
        refusal = scope_refusal(self.scope.refusal(url, seed=True))
        return refusal if refusal is not None else await self._admit(url)

    async def _admit(self, url: str) -> Refusal | None:
        """The gate without the scope check: for frontier URLs, whose scope :meth:`_push` checked."""
        refusal = await self._address_refusal(url)
        if refusal is not None:
            return refusal
        if self.config.respect_robots_txt and not url.endswith("/robots.txt"):
            assert self.robots is not None
            rules = await self.robots.rules(url, self._gate_without_robots)
            if rules.crawl_delay and self.fetcher is not None:
                self.fetcher.pacer.set_delay(urlsplit(url).netloc, rules.crawl_delay)
            return rules.refusal(url, self.config.user_agent)
        return None

    async def _redirect_gate(self, url: str) -> Refusal | None:
        """The gate of a redirect target, which it also claims: a page is fetched once per crawl,
        whether through a redirect or its own link (in flight at the same time or not)."""
        refusal = await self.gate(url)
        if refusal is None:
            if url in self._done:
                return Refusal(RefusalKind.DUPLICATE, "already fetched in this crawl")
            self._done.add(url)
        return refusal

    async def _gate_without_robots(self, url: str) -> Refusal | None:
        if not self.scope.host_allowed(url):
            return Refusal(RefusalKind.SCOPE, "outside the allowed domains")
        return await self._address_refusal(url)

    # -- the frontier ---------------------------------------------------------------------------

    def _push(self, url: str, depth: int, *, seed: bool = False, in_scope: bool = False) -> None:
        """Add ``url`` to the frontier (or lower its depth); its scope is checked here, once, unless
        the caller did (``in_scope``: a page's links, filtered when the page was parsed)."""
        known = self._depths.get(url)
        if known is not None and known <= depth:
            return
        if url in self._done:
            return
        if known is None and not in_scope and self.scope.refusal(url, seed=seed) is not None:
            return
        self._depths[url] = depth
        heapq.heappush(self._frontier, (depth, next(self._order), url, seed))

    async def _seed(self) -> None:
        for raw in self.config.start_urls:
            url = self._normalise(raw)
            if url is not None:
                self._push(url, 0, seed=True)
        sitemaps = [u for u in (self._normalise(s) for s in self.config.sitemap_urls) if u]
        if self.config.discover_sitemaps:
            for site in dict.fromkeys(origin(url) for _, _, url, _ in self._frontier):
                if await self._gate_without_robots(site) is None:
                    assert self.robots is not None
                    rules = await self.robots.rules(site, self._gate_without_robots)
                    sitemaps.extend(u for u in (self._normalise(s) for s in rules.sitemaps) if u)
        await self._read_sitemaps(sitemaps)

    async def _read_sitemaps(self, sitemaps: list[str]) -> None:
        assert self.fetcher is not None
        pending = [(url, 0) for url in dict.fromkeys(sitemaps)]
        read: set[str] = set()
        while pending:
            url, nesting = pending.pop(0)
            if url in read or nesting > MAX_SITEMAP_NESTING:
                continue
            read.add(url)
            refusal = await self._gate_without_robots(url)
            if refusal is not None:
                logger.warning("sitemap %s not read: %s", url, refusal)
                continue
            result = await self.fetcher.get(url, gate=self._gate_without_robots)
            if result.outcome is not Outcome.OK:
                self._sitemap_failed(url, result)
                continue
            try:
                sitemap = parse_sitemap(result.body)
            except SitemapError as err:
                self._report(url, f"sitemap: {err}")
                continue
            for page in sitemap.urls:
                normalised = self._normalise(page)
                if normalised is not None:
                    self._push(normalised, 0)
            pending.extend(
                (child, nesting + 1) for child in (self._normalise(s) for s in sitemap.sitemaps) if child
            )

    def _sitemap_failed(self, url: str, result: FetchResult) -> None:
        self._report(url, f"sitemap: {result.reason or result.outcome.value}")
        if result.outcome is Outcome.FAILED:
            # Pages only the sitemap lists are not reached this run: keep that site's documents.
            self._keep_site(origin(url), f"sitemap {url} could not be read")

    def _keep_site(self, site: str, reason: str) -> None:
        """Keep every indexed document of ``site`` (an origin) in this run."""
        if site not in self._kept_sites:
            self._kept_sites.add(site)
            self.keep.append(Keep(site, reason, prefix=True))

    def _report(self, url: str, reason: str) -> None:
        self.failures.append((url, reason))
        logger.info("%s: %s", url, reason)

    # -- the workers ----------------------------------------------------------------------------

    async def _next(self) -> tuple[str, int, bool] | None:
        assert self._wake is not None
        async with self._wake:
            while True:
                if self.stopping:
                    return None
                while self._frontier:
                    depth, _, url, seed = heapq.heappop(self._frontier)
                    if url in self._done or self._depths.get(url) != depth:
                        continue  # reached again at a lower depth, or already fetched
                    if self.fetched >= self.config.max_pages:
                        self._truncated += 1
                        continue
                    self._done.add(url)
                    self.fetched += 1
                    self._in_flight += 1
                    return url, depth, seed
                if self._in_flight == 0:
                    self._wake.notify_all()
                    return None
                await self._wake.wait()

    async def _worker(self) -> None:
        assert self._wake is not None
        while (job := await self._next()) is not None:
            url, depth, _seed = job
            try:
                await self._visit(url, depth)
            finally:
                async with self._wake:
                    self._in_flight -= 1
                    self._wake.notify_all()

    def _validators(self, url: str) -> Validators:
        record = self.previous.get(url)
        return record.validators if record is not None and record.reusable else Validators()

    def _wanted(self, mime: str, url: str) -> bool:
        if mime.split(";", 1)[0].strip().lower() in _HTML_MIMES:
            return True
        content_type = content_type_of(mime, url)
        return content_type is not None and content_type in self.config.content_types

    async def _visit(self, url: str, depth: int) -> None:
        assert self.fetcher is not None
        refusal = await self._admit(url)
        if refusal is not None:
            self._refused(url, refusal)
            return
        result = await self.fetcher.fetch(
            url, gate=self._redirect_gate, wanted=self._wanted, validators=self._validators
        )
        final = result.final_url
        if result.outcome is Outcome.OK:
            await self._fetched(final, depth, result)
        elif result.outcome is Outcome.NOT_MODIFIED:
            await self._unchanged(final, depth)
        elif result.outcome is Outcome.FAILED:
            await self._failed(url, final, depth, result.reason)
        elif result.outcome is Outcome.REFUSED:
            assert result.refusal is not None
            self._refused(url, result.refusal)
        elif result.outcome is Outcome.GONE:
            logger.info("%s is gone (%s): removed from the index if it was there", final, result.reason)
        else:
            logger.debug("%s not indexed: %s", final, result.reason)

    def _refused(self, url: str, refusal: Refusal) -> None:
        if refusal.kind is RefusalKind.ROBOTS_UNREADABLE:
            # The site whose robots.txt failed (a redirect's target, not the redirecting page's) is
            # kept and reported once, when the crawl ends.
            return
        if refusal.kind is RefusalKind.ADDRESS:
            logger.warning("%s not fetched: %s", url, refusal.reason)
            self.failures.append((url, refusal.reason))
        else:
            logger.info("%s not fetched: %s", url, refusal.reason)

    def _follow(self, page_url: str, links: tuple[str, ...], depth: int) -> None:
        """Push a page's links: filtered by scope when it was parsed (this run, or the run whose
        records are reused, which had the same scope settings: the checkpoint is keyed by them)."""
        if depth >= self.config.max_depth:
            return
        for link in links:
            self._push(link, depth + 1, in_scope=True)

    async def _wake_workers(self) -> None:
        assert self._wake is not None
        async with self._wake:
            self._wake.notify_all()

    async def _fetched(self, url: str, depth: int, result: FetchResult) -> None:
        content_type = self._content_type(url, result)
        if content_type is None:
            return
        title = ""
        canonical: str | None = None
        document = content_type in self.config.content_types
        links: tuple[str, ...] = ()
        html = content_type is ContentType.HTML
        if html:
            page = parse_page(url, result.body, ("robots", "ccf-webcrawler"))
            title = page.title
            links = tuple(
                dict.fromkeys(
                    n
                    for n in (self._normalise(link) for link in page.links)
                    if n and (n in self._depths or self.scope.refusal(n) is None)
                )
            )
            if page.canonical is not None:
                target = self._normalise(page.canonical)
                if target is not None and target != url and self.scope.refusal(target, seed=True) is None:
                    canonical = target
            if page.noindex or canonical is not None:
                document = False
        self.records[url] = PageRecord(result.validators, html, document, canonical, links)
        if canonical is not None:
            self._push(canonical, depth)
        self._follow(url, links, depth)
        await self._wake_workers()
        if document:
            await self._emit(Fetched(url, depth, result, content_type, title))

    async def _unchanged(self, url: str, depth: int) -> None:
        record = self.previous[url]
        self.records[url] = record
        if record.canonical is not None:
            self._push(record.canonical, depth)
        self._follow(url, record.links or (), depth)
        await self._wake_workers()
        if record.document:
            self._unchanged_pages.append(Unchanged(url, depth, record))
            if len(self._unchanged_pages) >= UNCHANGED_BATCH:
                await self._flush_unchanged()

    async def _failed(self, url: str, final: str, depth: int, reason: str) -> None:
        self._report(url, reason)
        # Never delete for a failure a later run may not see: keep the page, and follow the links
        # it had last time so the pages below it are reached (and kept) too.
        record = self.previous.get(final) or self.previous.get(url)
        self.keep.append(Keep(document_id(final), reason))
        if final != url:
            self.keep.append(Keep(document_id(url), reason))
        if record is not None:
            self.records[final] = record
            if record.canonical is not None:
                self._push(record.canonical, depth)
            self._follow(final, record.links or (), depth)
            await self._wake_workers()
