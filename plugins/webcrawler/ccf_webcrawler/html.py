"""What the crawler reads in an HTML page: title, links, ``<base>``, canonical link, robots meta tag.

Parsed with selectolax (the lexbor engine), which copes with the broken markup real sites serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

_HEADINGS = "h1, h2, h3, h4, h5, h6"


@dataclass
class Page:
    """The parts of an HTML page the crawler uses.

    Attributes:
        title: ``<title>``, else the first heading, else "".
        base: the URL relative links resolve against (``<base href>`` or the page's URL).
        links: the ``href`` of every followable link, absolute, in page order, without duplicates.
        canonical: the absolute ``<link rel=canonical>`` URL, if any.
        noindex: ``<meta name=robots content=noindex>``: the page is not a document.
        nofollow: ``<meta name=robots content=nofollow>``: its links are not followed.
    """

    title: str = ""
    base: str = ""
    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    noindex: bool = False
    nofollow: bool = False


def _text(node_text: str) -> str:
    return " ".join(node_text.split())


def _join(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:  # a malformed link (e.g. an unclosed IPv6 bracket) is not followed
        return None


def _tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in (value or "").replace(",", " ").split()}


def parse_page(url: str, body: bytes, robots_names: tuple[str, ...] = ("robots",)) -> Page:
    """Read an HTML page fetched from ``url``.

    Args:
        url: the page's URL (after redirects).
        body: the raw bytes (the parser finds the encoding).
        robots_names: meta tag names obeyed for noindex/nofollow (``robots`` and the crawler's own).
    """
    tree = LexborHTMLParser(body)
    page = Page(base=url)
    base = tree.css_first("base[href]")
    if base is not None and (href := (base.attributes.get("href") or "").strip()):
        page.base = _join(url, href) or url
    title = tree.css_first("title")
    page.title = _text(title.text()) if title is not None else ""
    if not page.title:
        heading = tree.css_first(_HEADINGS)
        page.title = _text(heading.text()) if heading is not None else ""
    for meta in tree.css("meta[name][content]"):
        if (meta.attributes.get("name") or "").strip().lower() in robots_names:
            tokens = _tokens(meta.attributes.get("content"))
            page.noindex |= bool(tokens & {"noindex", "none"})
            page.nofollow |= bool(tokens & {"nofollow", "none"})
    for link in tree.css("link[rel][href]"):
        if "canonical" in _tokens(link.attributes.get("rel")):
            href = (link.attributes.get("href") or "").strip()
            if href:
                page.canonical = _join(page.base, href)
            break
    if page.nofollow:
        return page
    seen: set[str] = set()
    for anchor in tree.css("a[href], area[href]"):
        if "nofollow" in _tokens(anchor.attributes.get("rel")):
            continue
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        absolute = _join(page.base, href)
        if absolute is not None and absolute not in seen:
            seen.add(absolute)
            page.links.append(absolute)
    return page
