"""The web crawler connector: runs a :class:`~ccf_webcrawler.crawler.Crawl` and maps pages to documents.

The crawl runs on an asyncio loop in a thread of its own; ``documents()`` turns what it finds into
documents in the engine's thread. Full mode: pages no longer reachable (or gone: 404/410) are
removed after a completed run. A 304 Not Modified becomes a :class:`DocumentVersion` the engine
counts unchanged without a download; a page that failed for any other reason is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from ccf_core import Connector, Document, DocumentMetadata, DocumentVersion, SyncContext, SyncMode
from ccf_webcrawler.config import WebCrawlerConfig
from ccf_webcrawler.crawler import (
    Crawl,
    Fetched,
    Finished,
    Item,
    Unchanged,
    UnchangedPages,
    scope_fingerprint,
)
from ccf_webcrawler.fetch import Outcome, Validators
from ccf_webcrawler.records import PageRecord, decode, encode, version_of
from ccf_webcrawler.secrets import resolve_headers
from ccf_webcrawler.urls import document_id

_MAX_TITLE = 1024
_SHOWN_FAILURES = 20


def _file_title(url: str) -> str:
    parts = urlsplit(url)
    name = unquote(PurePosixPath(parts.path).name)
    return name or parts.hostname or url


def page_document(item: Fetched) -> Document:
    """The document of a downloaded page or file."""
    result = item.result
    title = (item.title or _file_title(item.url))[:_MAX_TITLE]
    return Document(
        id=document_id(item.url),
        content=result.body,
        content_type=item.content_type,
        version=version_of(result.validators),
        metadata=DocumentMetadata(
            title=title,
            source_uri=item.url,
            last_updated_at=result.last_modified,
            attributes={"content_length": len(result.body), "crawl_depth": item.depth},
        ),
    )


def _same_records(records: dict[str, PageRecord], stored: dict[str, PageRecord]) -> bool:
    """True when ``records`` are exactly the records decoded from the stored checkpoint."""
    if len(records) != len(stored):
        return False
    return all(stored.get(url) is record for url, record in records.items())


class _CrawlThread:
    """Runs a crawl on its own event loop and thread; items come out of :attr:`items`."""

    def __init__(self, crawl: Crawl) -> None:
        self.crawl = crawl
        self.items = crawl.output
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._main, name="ccf-webcrawler", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self.crawl.run())
        # The loop outlives the crawl: a DocumentVersion's load() may still need a fetch.
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> None:
        self.thread.start()

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the crawl's loop from another thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        """Stop the crawl (if still running) and the loop; drains the queue so nothing blocks."""
        self.crawl.stopping = True
        if self.task is not None and not self.task.done():
            self.loop.call_soon_threadsafe(self.task.cancel)
        while self.thread.is_alive():
            try:
                while True:
                    self.items.get_nowait()
            except queue.Empty:
                pass
            if self.task is None or self.task.done():
                # The loop may close between the check and the call: then there is nothing to stop.
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=0.05)


class WebCrawlerConnector(Connector):
    """Crawls websites from start URLs and sitemaps; HTML pages and linked files become documents."""

    name = "webcrawler"
    description = "Web pages and linked files of websites (crawled from start URLs and sitemaps)"
    Config = WebCrawlerConfig
    sync_mode = SyncMode.FULL
    config: WebCrawlerConfig

    def documents(self, context: SyncContext) -> Iterator[Document | DocumentVersion]:
        config = self.config
        headers = resolve_headers(config.headers)
        scope = scope_fingerprint(config)
        stored = decode(context.checkpoint, scope)
        previous = self._trusted_records(stored, context)
        output: queue.Queue[Item] = queue.Queue(maxsize=max(16, 2 * config.concurrency))
        crawl = Crawl(config, headers, previous, output)
        runner = _CrawlThread(crawl)
        runner.start()
        try:
            while True:
                item = output.get()
                if isinstance(item, Finished):
                    break
                if context.cancelled:
                    return
                if isinstance(item, Fetched):
                    yield page_document(item)
                elif isinstance(item, UnchangedPages):
                    for page in item.pages:
                        if context.cancelled:
                            return
                        yield self._unchanged(page, runner, context)
            if item.error is not None:
                raise item.error
            for keep in item.keep:
                (context.keep_prefix if keep.prefix else context.keep)(keep.document_id)
            self._log_summary(context, item)
            self._report_unreadable_sites(context, item)
            if context.checkpoint and _same_records(item.records, stored):
                # Every page answered 304 (or kept its record): the checkpoint is the one stored.
                context.set_checkpoint(context.checkpoint)
            else:
                context.set_checkpoint(encode(item.records, scope))
        finally:
            runner.stop()

    @staticmethod
    def _trusted_records(records: dict[str, PageRecord], context: SyncContext) -> dict[str, PageRecord]:
        """The records whose validators the engine also has, so a 304 is really "unchanged".

        A document the destination did not accept last time has a record but no recorded version;
        it gets a full download instead of a conditional request.
        """
        trusted = {}
        for url, record in records.items():
            stale = (
                record.document
                and record.reusable
                and context.previous_version(document_id(url)) != record.version
            )
            trusted[url] = (
                PageRecord(Validators(), record.html, record.document, record.canonical, record.links)
                if stale
                else record
            )
        return trusted

    @staticmethod
    def _unchanged(item: Unchanged, runner: _CrawlThread, context: SyncContext) -> DocumentVersion:
        doc_id = document_id(item.url)

        def load() -> Document | None:
            # Only reached when the engine's stored version differs after all: download in full.
            result = runner.call(runner.crawl.refetch(item.url))
            if result.outcome is Outcome.OK:
                fetched = runner.crawl.as_fetched(item.url, item.depth, result)
                if fetched is not None:
                    return page_document(fetched)
                return None
            if result.outcome is not Outcome.GONE:
                context.keep(doc_id)
            return None

        version = version_of(item.record.validators)
        assert version is not None  # records with validators but no version are never reusable
        return DocumentVersion(id=doc_id, version=version, load=load)

    def _report_unreadable_sites(self, context: SyncContext, finished: Finished) -> None:
        """Name each site whose robots.txt could not be read (a site that is down, most often): the
        run ends completed with failures, so a scheduled crawl of a site that is down is noticed."""
        if self.config.respect_robots_txt:
            consequence = "nothing of the site was crawled in this run and its indexed pages are kept"
        else:
            consequence = "the sitemaps it may list were not read and the site's indexed pages are kept"
        for site, reason in finished.unreadable_sites:
            context.report_problem(site, "unavailable", f"{site}robots.txt: {reason}; {consequence}")

    @staticmethod
    def _log_summary(context: SyncContext, finished: Finished) -> None:
        failures = finished.failures
        context.logger.info(
            "crawled %d URLs; %d failed or were refused; %d kept without a fresh copy",
            finished.fetched,
            len(failures),
            len(finished.keep),
        )
        for url, reason in failures[:_SHOWN_FAILURES]:
            context.logger.warning("not indexed: %s: %s", url, reason)
        if len(failures) > _SHOWN_FAILURES:
            context.logger.warning("... and %d more URLs not indexed", len(failures) - _SHOWN_FAILURES)
        # Every one goes into the report (the run ends completed with failures, exit code 3).
        for url, reason in failures:
            context.report_problem(url, "not_fetched", f"{url}: {reason}; an indexed copy, if any, is kept")
