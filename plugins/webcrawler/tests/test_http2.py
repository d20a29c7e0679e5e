"""HTTPS with HTTP/2 (hypercorn with a certificate from a test CA), and certificate checks."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from ccf_core.testing import ConnectorHarness
from ccf_webcrawler import WebCrawlerConnector

PAGES = {
    "/": b'<title>Secure home</title><a href="/a.html">a</a><a href="/b.html">b</a>',
    "/a.html": b"<title>Page A</title><p>alpha over h2</p>",
    "/b.html": b"<title>Page B</title><p>beta over h2</p>",
}


class _App:
    def __init__(self) -> None:
        self.versions: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.versions.append(scope["http_version"])
        body = PAGES.get(scope["path"])
        status = 200 if body is not None else 404
        headers = [(b"content-type", b"text/html" if body is not None else b"text/plain")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body or b""})


@pytest.fixture
def secure_site(tmp_path: Path) -> Iterator[tuple[str, _App, Path]]:
    """An HTTPS site on 127.0.0.1 (HTTP/2 offered by ALPN); yields its URL, app and CA file."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(key_file))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile = config.keyfile = str(key_file)
    config.alpn_protocols = ["h2", "http/1.1"]
    config.loglevel = "WARNING"
    app = _App()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def main() -> None:
        task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))
        while True:
            try:
                _, probe = await asyncio.open_connection("127.0.0.1", port)
                probe.close()
                await probe.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.02)
        started.set()
        await task

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "the HTTP/2 test server did not start"
    yield f"https://127.0.0.1:{port}/", app, ca_file
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_https_site_is_crawled_over_http2(secure_site: tuple[str, _App, Path], tmp_path: Path) -> None:
    url, app, ca_file = secure_site
    settings = {"start_urls": [url], "allow_private_networks": ["127.0.0.1/32"], "ca_bundle": str(ca_file)}
    with ConnectorHarness(WebCrawlerConnector, settings, directory=tmp_path) as harness:
        run = harness.run()
        assert sorted(doc.title for doc in run.documents()) == ["Page A", "Page B", "Secure home"]
        assert set(app.versions) == {"2"}
        assert [hit.title for hit in run.search("beta")] == ["Page B"]


def test_untrusted_certificate_is_refused(
    secure_site: tuple[str, _App, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, app, _ = secure_site
    settings = {"start_urls": [url], "allow_private_networks": ["127.0.0.1/32"]}
    with ConnectorHarness(WebCrawlerConnector, settings, directory=tmp_path) as harness:
        assert harness.run().document_ids() == []
    assert app.versions == []
    assert "TLS certificate not trusted" in caplog.text
    assert "set ca_bundle" in caplog.text
