"""A generated website served by a real HTTP server on 127.0.0.1, for the crawler's tests.

About 300 pages: a home page, 10 sections of 25 pages with navigation on every page, a deep chain,
a sitemap index (gzip) listing orphan pages, robots.txt with a disallowed path, redirects inside
and outside the site and in a loop, a PDF, Markdown, CSV and a too-large text file, 404/410/500/429
pages, ETag and Last-Modified with conditional answers, a canonical link, noindex/nofollow pages,
``<base href>``, a calendar trap and a link to another loopback address. Tests change ``pages``,
``status``, ``robots`` between runs and read ``requests``.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SECTIONS = 10
PAGES_PER_SECTION = 25
DEEP = 15
ORPHANS = 5
LAST_MODIFIED = "Tue, 03 Mar 2026 10:00:00 GMT"

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
    b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class Response:
    """What the site answers for one path."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True
    last_modified: bool = True


@dataclass
class Request:
    """One request the server saw."""

    path: str
    status: int
    headers: dict[str, str]
    at: float


def html(title: str | None, body: str, head: str = "") -> bytes:
    """A small HTML page."""
    title_tag = f"<title>{title}</title>" if title is not None else ""
    return f"<!doctype html><html><head>{title_tag}{head}</head><body>{body}</body></html>".encode()


def nav() -> str:
    return "<nav>" + "".join(f'<a href="/section/{s}/">Section {s}</a>' for s in range(SECTIONS)) + "</nav>"


class Site:
    """The website; ``url(path)`` is an absolute URL on the running server."""

    def __init__(self) -> None:
        self.base = ""
        self.pages: dict[str, Response] = {}
        self.dynamic: dict[str, Callable[[Site, dict[str, str]], Response]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.other_base = ""
        self.build()

    def url(self, path: str) -> str:
        return self.base + path

    def fetched(self, path: str) -> int:
        """How many requests reached ``path`` (query included)."""
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)

    def statuses(self) -> list[int]:
        with self.lock:
            return [r.status for r in self.requests]

    def build(self) -> None:
        p = self.pages
        home_links = [
            '<a href="/deep/1.html">Deep</a>',
            '<a href="/private/secret.html">Private</a>',
            '<a href="/old-page">Old page</a>',
            '<a href="/moved">Moved</a>',
            '<a href="/away">Away</a>',
            '<a href="/loop-a">Loop</a>',
            '<a href="/files/handbook.pdf">Handbook (PDF)</a>',
            '<a href="/files/notes.md">Notes (Markdown)</a>',
            '<a href="/files/figures.csv">Figures</a>',
            '<a href="/files/logo.png">Logo</a>',
            '<a href="/files/huge.txt">Huge</a>',
            '<a href="/status/404.html">Missing</a>',
            '<a href="/status/410.html">Removed</a>',
            '<a href="/status/500.html">Broken</a>',
            '<a href="/status/429.html">Busy</a>',
            '<a href="/print/section-1-page-0.html">Print view</a>',
            '<a href="/noindex.html">Noindex</a>',
            '<a href="/nofollow-meta.html">Nofollow meta</a>',
            '<a href="/never-b.html" rel="nofollow">Nofollowed link</a>',
            '<a href="/base/page.html">Base</a>',
            '<a href="/no-title.html">No title</a>',
            '<a href="/calendar/2026/1">Calendar</a>',
            '<a href="/Section/../section/3/page-1.html#top">Messy link</a>',
            '<a href="/section/3/page-2.html?b=2&amp;a=1&amp;utm_source=mail">Query link</a>',
            '<a href="/section/3/page-2.html?a=1&amp;b=2">Same page</a>',
            '<a href="mailto:someone@example.com">Mail</a>',
            '<a href="/other">Redirect to another loopback host</a>',
            '<a href="OTHER_BASE/direct.html">Another loopback host</a>',
        ]
        p["/"] = Response(html("Home", nav() + "<h1>Welcome to the handbook</h1>" + "".join(home_links)))
        for s in range(SECTIONS):
            links = "".join(f'<a href="page-{n}.html">Page {n}</a>' for n in range(PAGES_PER_SECTION))
            p[f"/section/{s}/"] = Response(html(f"Section {s}", nav() + links))
            for n in range(PAGES_PER_SECTION):
                sibling = f'<a href="page-{(n + 1) % PAGES_PER_SECTION}.html">Next</a>'
                text = f"<p>Section {s} page {n} explains topic s{s}p{n} in detail.</p>"
                # Section 9 answers with Last-Modified only (no ETag): If-Modified-Since is used.
                p[f"/section/{s}/page-{n}.html"] = Response(
                    html(f"Section {s} page {n}", nav() + text + sibling), etag=s != 9
                )
        for d in range(1, DEEP + 1):
            nxt = f'<a href="/deep/{d + 1}.html">deeper</a>' if d < DEEP else ""
            p[f"/deep/{d}.html"] = Response(html(f"Deep {d}", f"<p>level {d}</p>{nxt}"))
        for o in range(ORPHANS):
            p[f"/orphans/{o}.html"] = Response(
                html(f"Orphan {o}", f"<p>only the sitemap lists orphan {o}</p>")
            )
        p["/private/secret.html"] = Response(html("Secret", "<p>robots.txt disallows this</p>"))
        p["/moved-target.html"] = Response(html("Moved here", "<p>the target of a redirect</p>"))
        p["/old-page"] = Response(b"", status=301, headers={"Location": "/section/0/page-0.html"})
        p["/moved"] = Response(b"", status=302, headers={"Location": "/moved-target.html"})
        p["/away"] = Response(b"", status=302, headers={"Location": "http://outside.invalid/landing"})
        p["/loop-a"] = Response(b"", status=302, headers={"Location": "/loop-b"})
        p["/loop-b"] = Response(b"", status=302, headers={"Location": "/loop-a"})
        p["/files/handbook.pdf"] = Response(PDF, "application/pdf")
        p["/files/notes.md"] = Response(b"# Release notes\n\nThe zebra release ships today.\n", "text/plain")
        p["/files/figures.csv"] = Response(b"quarter,revenue\nQ1,10\n", "text/csv")
        p["/files/logo.png"] = Response(b"\x89PNG\r\n", "image/png")
        p["/files/huge.txt"] = Response(b"x" * (2 * 1024 * 1024), "text/plain")
        p["/status/404.html"] = Response(html("Missing", ""), status=404)
        p["/status/410.html"] = Response(html("Removed", ""), status=410)
        p["/status/500.html"] = Response(html("Broken", ""), status=500)
        p["/print/section-1-page-0.html"] = Response(
            html(
                "Print: section 1 page 0",
                "<p>print view</p>",
                '<link rel="canonical" href="/section/1/page-0.html">',
            )
        )
        p["/noindex.html"] = Response(
            html(
                "Hidden", '<a href="/only-via-noindex.html">on</a>', '<meta name="robots" content="noindex">'
            )
        )
        p["/only-via-noindex.html"] = Response(html("Reached through a noindex page", "<p>found</p>"))
        p["/nofollow-meta.html"] = Response(
            html("No follow", '<a href="/never-a.html">x</a>', '<meta name="robots" content="nofollow">')
        )
        p["/never-a.html"] = Response(html("Never A", ""))
        p["/never-b.html"] = Response(html("Never B", ""))
        p["/base/page.html"] = Response(html("Base", '<a href="target.html">t</a>', '<base href="/based/">'))
        p["/based/target.html"] = Response(html("Based target", "<p>resolved through base href</p>"))
        p["/no-title.html"] = Response(html(None, "<h1>Heading as title</h1><p>text</p>"))
        self.dynamic["/status/429.html"] = _busy_once
        self.robots = "User-agent: *\nDisallow: /private/\n"
        self.robots_status = 200

    def sitemap_index(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.url('/sitemap-orphans.xml.gz')}</loc></sitemap></sitemapindex>"
        ).encode()

    def sitemap_orphans(self) -> bytes:
        entries = "".join(f"<url><loc>{self.url(f'/orphans/{o}.html')}</loc></url>" for o in range(ORPHANS))
        xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        return gzip.compress(xml.encode())

    def respond(self, path: str, headers: dict[str, str]) -> Response:
        route = urlsplit(path).path
        if route == "/robots.txt":
            text = self.robots + f"Sitemap: {self.url('/sitemap.xml')}\n"
            status = self.robots_status
            return Response(text.encode(), "text/plain", status=status, etag=False, last_modified=False)
        if route == "/sitemap.xml":
            return Response(self.sitemap_index(), "application/xml", etag=False, last_modified=False)
        if route == "/sitemap-orphans.xml.gz":
            return Response(self.sitemap_orphans(), "application/gzip", etag=False, last_modified=False)
        if route == "/other":
            return Response(b"", status=302, headers={"Location": self.other_base + "/internal.html"})
        if route == "/" and self.other_base:
            home = self.pages["/"]
            body = home.body.replace(b"OTHER_BASE", self.other_base.encode())
            return Response(body, home.content_type, home.status, home.headers, home.etag, home.last_modified)
        if route in self.dynamic:
            return self.dynamic[route](self, headers)
        if route.startswith("/calendar/"):
            return _calendar(route)
        return self.pages.get(route) or Response(html("Not found", ""), status=404)


def _busy_once(site: Site, headers: dict[str, str]) -> Response:
    if site.fetched("/status/429.html") <= 1:
        return Response(b"slow down", "text/plain", status=429, headers={"Retry-After": "1"})
    return Response(html("Busy page", "<p>served after a 429</p>"))


def _calendar(route: str) -> Response:
    # An endless calendar: every month links to the next one.
    parts = route.strip("/").split("/")
    year, month = int(parts[1]), int(parts[2])
    nxt = f"/calendar/{year + month // 12}/{month % 12 + 1}"
    return Response(html(f"{year}-{month}", f'<a href="{nxt}">next month</a>'))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        headers = {k.lower(): v for k, v in self.headers.items()}
        with site.lock:
            site.requests.append(Request(self.path, 0, headers, time.monotonic()))
            record = site.requests[-1]
        response = site.respond(self.path, headers)
        status, body = response.status, response.body
        extra = dict(response.headers)
        if status == 200:
            if response.etag:
                extra["ETag"] = _etag(body)
            if response.last_modified:
                extra["Last-Modified"] = LAST_MODIFIED
            unchanged = (response.etag and headers.get("if-none-match") == extra.get("ETag")) or (
                not response.etag
                and response.last_modified
                and "if-none-match" not in headers
                and headers.get("if-modified-since") == LAST_MODIFIED
            )
            if unchanged:
                status, body = 304, b""
        record.status = status
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


def serve(site: Site, host: str = "127.0.0.1") -> tuple[_Server, threading.Thread]:
    """Start serving ``site`` on a free port of ``host``; sets ``site.base``."""
    server = _Server((host, 0), _Handler)
    server.site = site
    site.base = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread
