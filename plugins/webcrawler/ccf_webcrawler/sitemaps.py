"""Sitemaps (``<urlset>``, ``<sitemapindex>``, gzip-compressed or not) read with lxml.

The parser resolves no entities and fetches nothing (no XXE, no billion laughs); a gzip file is
decompressed in chunks up to a cap, so a small compressed bomb cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field

from lxml import etree

from ccf_core.errors import CCFError

#: Largest sitemap read after decompression (the sitemap protocol's own limit is 50 MB).
MAX_SITEMAP_BYTES = 64 * 1024 * 1024


class SitemapError(CCFError, ValueError):
    """A sitemap that cannot be read (named with the reason)."""


@dataclass
class Sitemap:
    """What one sitemap file lists: page URLs, or further sitemaps (a sitemap index)."""

    urls: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def _decompressed(data: bytes) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
                if out.tell() > MAX_SITEMAP_BYTES:
                    raise SitemapError(f"larger than {MAX_SITEMAP_BYTES} bytes once decompressed")
    except (OSError, EOFError, zlib.error) as err:
        raise SitemapError(f"not valid gzip: {err}") from None
    return out.getvalue()


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_sitemap(data: bytes) -> Sitemap:
    """The URLs and child sitemaps listed in a sitemap file.

    Raises:
        SitemapError: when the file is not gzip/XML, or not a ``urlset``/``sitemapindex``.
    """
    data = _decompressed(data)
    if len(data) > MAX_SITEMAP_BYTES:
        raise SitemapError(f"larger than {MAX_SITEMAP_BYTES} bytes")
    sitemap = Sitemap()
    root_seen = False
    try:
        for event, element in etree.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if _local(element.tag) not in {"urlset", "sitemapindex"}:
                        raise SitemapError(
                            f"root element <{_local(element.tag)}> is not urlset or sitemapindex"
                        )
                continue
            if _local(element.tag) != "loc":
                if _local(element.tag) in {"url", "sitemap"}:
                    element.clear()
                continue
            parent = element.getparent()
            location = (element.text or "").strip()
            if location and parent is not None:
                kind = _local(parent.tag)
                if kind == "url":
                    sitemap.urls.append(location)
                elif kind == "sitemap":
                    sitemap.sitemaps.append(location)
    except etree.XMLSyntaxError as err:
        raise SitemapError(f"not valid XML: {err}") from None
    return sitemap
