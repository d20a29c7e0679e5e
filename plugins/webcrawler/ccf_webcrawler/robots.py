"""robots.txt, read once per site with protego: rules, Crawl-delay and the sitemaps it lists.

As RFC 9309 says: a robots.txt that does not exist (4xx) allows everything; one that cannot be read
(5xx, network failure) disallows the whole site for this run, and the crawler then keeps that
site's indexed pages instead of treating them as gone, and names the site in the run's report.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from protego import Protego

from ccf_webcrawler.fetch import Fetcher, Gate, Outcome
from ccf_webcrawler.refusals import Refusal, RefusalKind
from ccf_webcrawler.urls import origin

logger = logging.getLogger(__name__)


@dataclass
class SiteRules:
    """The robots.txt of one site (scheme, host and port)."""

    origin: str
    parser: Protego | None = None
    unreachable: str | None = None
    sitemaps: list[str] = field(default_factory=list)
    crawl_delay: float | None = None

    def refusal(self, url: str, user_agent: str) -> Refusal | None:
        """Why robots.txt forbids ``url``, or None."""
        if self.unreachable is not None:
            reason = f"robots.txt of {self.origin} could not be read ({self.unreachable})"
            return Refusal(RefusalKind.ROBOTS_UNREADABLE, reason, site=self.origin)
        if self.parser is not None and not self.parser.can_fetch(url, user_agent):
            return Refusal(RefusalKind.ROBOTS, "disallowed by robots.txt")
        return None


class RobotsCache:
    """Fetches and keeps each site's robots.txt for one crawl (one fetch per site, even concurrently).

    Attributes:
        unreadable: the sites whose robots.txt could not be read, each with why (in the order met).
    """

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self.fetcher = fetcher
        self.user_agent = user_agent
        self.unreadable: dict[str, str] = {}
        self._sites: dict[str, SiteRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, url: str, gate: Gate) -> SiteRules:
        """The rules of ``url``'s site, fetching its robots.txt the first time."""
        site = origin(url)
        known = self._sites.get(site)
        if known is not None:
            return known
        lock = self._locks.setdefault(site, asyncio.Lock())
        async with lock:
            known = self._sites.get(site)
            if known is None:
                known = self._sites[site] = await self._fetch(site, gate)
        return known

    async def _fetch(self, site: str, gate: Gate) -> SiteRules:
        result = await self.fetcher.get(site + "robots.txt", gate=gate)
        rules = SiteRules(site)
        if result.outcome is Outcome.OK:
            text = result.body.decode("utf-8", errors="replace")
            rules.parser = Protego.parse(text)
            rules.sitemaps = list(rules.parser.sitemaps)
            delay = rules.parser.crawl_delay(self.user_agent)
            rules.crawl_delay = float(delay) if delay else None
        elif result.outcome is Outcome.GONE or (400 <= result.status < 500):
            logger.debug("%srobots.txt: HTTP %s, everything allowed", site, result.status)
        elif result.outcome is Outcome.UNWANTED:
            pass
        else:
            rules.unreachable = self.unreadable[site] = result.reason or result.outcome.value
            logger.warning(
                "robots.txt of %s could not be read (%s): nothing of that site is crawled in this run "
                "and its indexed pages are kept",
                site,
                rules.unreachable,
            )
        return rules
