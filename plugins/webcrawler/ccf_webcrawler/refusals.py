"""Why a URL is not fetched, as a kind the crawl acts on (never by reading the message's words)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class RefusalKind(StrEnum):
    """The kinds of refusal, each handled its own way by the crawl."""

    #: Outside the allowed domains or patterns, too long, a skipped file type: silently left out.
    SCOPE = "scope"
    #: Disallowed by the site's robots.txt.
    ROBOTS = "robots"
    #: The site's robots.txt could not be read: nothing of it is fetched and its pages are kept.
    ROBOTS_UNREADABLE = "robots_unreadable"
    #: A private, loopback or link-local address that ``allow_private_networks`` does not allow.
    ADDRESS = "address"
    #: A redirect to a page this crawl has fetched already (or is fetching): it is not fetched twice.
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Refusal:
    """Why one URL may not be fetched.

    Attributes:
        kind: what the crawl does about it.
        reason: the sentence for logs and reports.
        site: with ``ROBOTS_UNREADABLE``, the origin (``scheme://host:port/``) whose pages are kept.
    """

    kind: RefusalKind
    reason: str
    site: str = ""

    def __str__(self) -> str:
        return self.reason

    def through_redirect(self, target: str) -> Refusal:
        """The same refusal, met by a redirect to ``target`` (the kind and site stay the target's)."""
        return replace(self, reason=f"redirects to {target}: {self.reason}")


def scope_refusal(reason: str | None) -> Refusal | None:
    """A scope check's answer (a reason or None) as a refusal."""
    return None if reason is None else Refusal(RefusalKind.SCOPE, reason)
