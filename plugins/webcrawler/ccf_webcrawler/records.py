"""What the crawler remembers of each page between runs, kept in the connector's checkpoint.

A page answered with 304 Not Modified has no body, so its links cannot be read again; the crawl
still needs them to reach the pages below it and to tell which pages are no longer linked. Each
fetched page therefore leaves a compact record: its ``ETag`` and ``Last-Modified`` (for the next
conditional request), whether it is a document, its canonical URL and its outgoing links.

Encoding: one table of every URL (sorted and front-coded: each entry stores how many characters it
shares with the one before), records pointing into it by index, links as sorted index deltas;
the JSON is compressed with zlib and stored base64-encoded. A 20,000-page site with 25 links per
page encodes to a few hundred kilobytes (see ``bench/webcrawler.py``). When the encoding exceeds
:data:`CHECKPOINT_BUDGET` (the CCF backend keeps checkpoints up to 1 MiB), link lists are dropped
first (their pages are then downloaded in full next time), then whole records.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ccf_webcrawler.fetch import Validators

logger = logging.getLogger(__name__)

FORMAT = 1
#: Largest encoded checkpoint written, in characters (under the backend's 1 MiB with room to spare).
CHECKPOINT_BUDGET = 900_000
_MAX_VERSION = 200


@dataclass(frozen=True)
class PageRecord:
    """One page as the last completed run left it.

    Attributes:
        validators: its ``ETag`` / ``Last-Modified``.
        html: True for an HTML page (its links matter to the crawl).
        document: True when it was indexed (not noindex, not a duplicate of a canonical URL).
        canonical: the canonical URL it names, when that is another page.
        links: its followable in-scope links, or None when not kept (then a 304 cannot be used).
    """

    validators: Validators
    html: bool
    document: bool
    canonical: str | None = None
    links: tuple[str, ...] | None = ()

    @property
    def version(self) -> str | None:
        """The document version recorded with the engine (see :func:`version_of`)."""
        return version_of(self.validators)

    @property
    def reusable(self) -> bool:
        """True when a 304 for this page tells the crawl everything it needs."""
        usable = self.version is not None
        return usable and (not self.html or self.links is not None)


def version_of(validators: Validators) -> str | None:
    """The document version recorded with the engine: the validators, or None if there are none."""
    if not validators:
        return None
    parts = []
    if validators.etag:
        parts.append(f"etag:{validators.etag}")
    if validators.last_modified:
        parts.append(f"lm:{validators.last_modified}")
    version = " ".join(parts)
    return version if len(version) <= _MAX_VERSION else None


def _front_code(urls: list[str]) -> list[str]:
    coded, previous = [], ""
    for url in urls:
        shared = 0
        limit = min(len(url), len(previous), 999)
        while shared < limit and url[shared] == previous[shared]:
            shared += 1
        coded.append(f"{shared:x}|{url[shared:]}")
        previous = url
    return coded


def _front_decode(coded: Iterable[str]) -> list[str]:
    urls, previous = [], ""
    for entry in coded:
        shared, _, suffix = entry.partition("|")
        previous = previous[: int(shared, 16)] + suffix
        urls.append(previous)
    return urls


def encode(
    records: Mapping[str, PageRecord], scope: str, *, budget: int = CHECKPOINT_BUDGET
) -> dict[str, Any]:
    """The checkpoint holding ``records`` (for the crawl scope fingerprint ``scope``), within budget."""
    payload = _encode(records, scope, keep_links=True)
    if len(payload["pages"]) > budget:
        logger.warning(
            "the crawl's page records take %d bytes, more than the checkpoint budget of %d: links "
            "are not kept, so unchanged HTML pages are downloaded again on the next run",
            len(payload["pages"]),
            budget,
        )
        payload = _encode(records, scope, keep_links=False)
    if len(payload["pages"]) > budget:
        payload = {"format": FORMAT, "scope": scope, "pages": ""}
    return payload


def _encode(records: Mapping[str, PageRecord], scope: str, *, keep_links: bool) -> dict[str, Any]:
    names: set[str] = set(records)
    if keep_links:
        for record in records.values():
            names.update(record.links or ())
            if record.canonical:
                names.add(record.canonical)
    else:
        names.update(r.canonical for r in records.values() if r.canonical)
    table = sorted(names)
    index = {url: number for number, url in enumerate(table)}
    rows = []
    for url in sorted(records):
        record = records[url]
        flags = int(record.html) | int(record.document) << 1
        links: list[int] | None = None
        if keep_links and record.links is not None:
            positions = sorted(index[link] for link in record.links)
            links = [b - a for a, b in zip([0, *positions], positions, strict=False)]
        rows.append(
            [
                index[url],
                record.validators.etag or "",
                record.validators.last_modified or "",
                flags,
                index[record.canonical] if record.canonical else -1,
                links,
            ]
        )
    raw = json.dumps({"urls": _front_code(table), "pages": rows}, separators=(",", ":"))
    packed = base64.b64encode(zlib.compress(raw.encode(), 9)).decode("ascii")
    return {"format": FORMAT, "scope": scope, "pages": packed}


def decode(checkpoint: Mapping[str, Any] | None, scope: str) -> dict[str, PageRecord]:
    """The records in a checkpoint; empty when there is none, it is unreadable or its scope differs."""
    if not checkpoint or checkpoint.get("format") != FORMAT or not checkpoint.get("pages"):
        return {}
    if checkpoint.get("scope") != scope:
        logger.info("the crawl settings changed since the last run: every page is downloaded again")
        return {}
    try:
        data = json.loads(zlib.decompress(base64.b64decode(checkpoint["pages"])))
        table = _front_decode(data["urls"])
        records: dict[str, PageRecord] = {}
        for number, etag, last_modified, flags, canonical, deltas in data["pages"]:
            links = None if deltas is None else tuple(map(table.__getitem__, accumulate(deltas)))
            records[table[number]] = PageRecord(
                validators=Validators(etag or None, last_modified or None),
                html=bool(flags & 1),
                document=bool(flags & 2),
                canonical=table[canonical] if canonical >= 0 else None,
                links=links,
            )
    except (ValueError, KeyError, TypeError, IndexError, zlib.error, binascii.Error) as err:
        logger.warning("the crawler's checkpoint cannot be read (%s): every page is downloaded again", err)
        return {}
    return records
