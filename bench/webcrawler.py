"""Web crawler throughput, recrawl time and peak memory against a local site.

A generated site (each page ~3 KB of text linking to the next 8 pages and to 20 hub pages, with
ETags) is served by a threaded HTTP server in its own process, adding a fixed latency to every
response. Each crawl runs in a fresh process through ``ccf_core.testing.ConnectorHarness`` into the
local index. Cases, one JSON line each:

- ``first_crawl``: 2,000 pages, 20 ms latency, default settings (concurrency 16): pages/s.
- ``recrawl_unchanged``: the same index again, nothing changed (every page answers 304).
- ``concurrency_1``: a first crawl with ``concurrency: 1`` (first 400 pages, same latency).
- ``memory``: 20,000 pages, no added latency: peak RSS of the crawling process, and the size of
  the checkpoint (the page records) it saved.

Usage: python bench/webcrawler.py [--pages 2000] [--large 20000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HUBS = 20
LINKS = 8


def _page(number: int, pages: int) -> bytes:
    links = "".join(f'<a href="/p/{(number + k) % pages}.html">next {k}</a>' for k in range(1, LINKS + 1))
    hubs = "".join(f'<a href="/p/{h * (pages // HUBS)}.html">hub {h}</a>' for h in range(HUBS))
    text = " ".join(f"word{(number * 7 + k) % 997}" for k in range(400))
    return (
        f"<!doctype html><html><head><title>Page {number}</title></head><body><nav>{hubs}</nav>"
        f"<h1>Page {number}</h1><p>{text}</p>{links}</body></html>"
    ).encode()


def _serve(port_queue: Any, pages: int, latency: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            path = self.path
            if path == "/robots.txt":
                status, body, etag = 404, b"", None
            elif path == "/":
                status, body, etag = 200, b'<a href="/p/0.html">start</a>', '"home"'
            elif path.startswith("/p/") and path.endswith(".html") and path[3:-5].isdigit():
                number = int(path[3:-5])
                status, body, etag = (
                    (200, _page(number, pages), f'"p{number}"') if number < pages else (404, b"", None)
                )
            else:
                status, body, etag = 404, b"", None
            if etag is not None and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            self.send_response(status)
            if etag is not None:
                self.send_header("ETag", etag)
            if status == 200:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _child(directory: str, config: dict[str, Any]) -> None:
    """Run one crawl and print its figures as JSON (in a process of its own)."""
    import base64
    import zlib

    from ccf_core.testing import ConnectorHarness

    with ConnectorHarness("webcrawler", config, directory=directory) as harness:
        started = time.perf_counter()
        run = harness.run()
        seconds = time.perf_counter() - started
        checkpoint = harness.state.get_checkpoint(run.report.connector + "@" + harness.index.identity) or {}
    report = run.report
    pages_field = checkpoint.get("pages", "")
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "scanned": report.scanned,
                "added": report.added,
                "unchanged": report.unchanged,
                "failed": report.failed,
                "status": report.status.value,
                "checkpoint_bytes": len(json.dumps(checkpoint)),
                "records_json_bytes": len(zlib.decompress(base64.b64decode(pages_field)))
                if pages_field
                else 0,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


def _crawl(directory: str, config: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", directory, json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _site(pages: int, latency: float) -> tuple[multiprocessing.Process, int]:
    ports: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(ports, pages, latency), daemon=True)
    process.start()
    return process, ports.get(timeout=30)


def _config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "start_urls": [f"http://127.0.0.1:{port}/"],
        "allow_private_networks": True,  # the bench site is on loopback
        "max_depth": 10_000,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()

    server, port = _site(args.pages, args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="ccf-bench-crawl-") as directory:
            first = _crawl(directory, _config(port))
            rate = first["scanned"] / first["seconds"]
            print(
                json.dumps(
                    {
                        "case": "first_crawl",
                        "pages": first["scanned"],
                        **first,
                        "pages_per_second": round(rate, 1),
                    }
                )
            )
            again = _crawl(directory, _config(port))
            speedup = first["seconds"] / again["seconds"]
            print(json.dumps({"case": "recrawl_unchanged", **again, "times_faster": round(speedup, 1)}))
        with tempfile.TemporaryDirectory(prefix="ccf-bench-crawl-") as directory:
            single = _crawl(directory, _config(port, concurrency=1, max_pages=400))
            rate = single["scanned"] / single["seconds"]
            print(json.dumps({"case": "concurrency_1", **single, "pages_per_second": round(rate, 1)}))
    finally:
        server.terminate()
    if not args.large:
        return
    server, port = _site(args.large, 0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="ccf-bench-crawl-") as directory:
            large = _crawl(directory, _config(port, max_pages=args.large + 10))
            print(json.dumps({"case": "memory", "pages": large["scanned"], **large}))
    finally:
        server.terminate()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main()
