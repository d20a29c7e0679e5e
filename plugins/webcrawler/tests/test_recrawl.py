"""Incremental recrawls: conditional requests, 304s without downloads, deletions, kept pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ccf_core.engine import state_scope
from ccf_core.testing import ConnectorHarness
from ccf_webcrawler import crawler, records
from tests.site import LAST_MODIFIED, Response, Site, html


def test_recrawl_of_an_unchanged_site_downloads_nothing(harness: ConnectorHarness, site: Site) -> None:
    first = harness.run()
    site.requests.clear()
    second = harness.run()
    assert second.report.unchanged == second.report.scanned == first.report.scanned
    assert second.report.added == second.report.updated == second.report.deleted == 0
    page_requests = [r for r in site.requests if r.path.startswith("/section/")]
    assert page_requests and all(r.status == 304 for r in page_requests)


def test_checkpoint_of_an_unchanged_site_is_kept_as_it_was(harness: ConnectorHarness, site: Site) -> None:
    """An all-304 recrawl saves the stored page records as they are; a changed page renews them."""
    scope = state_scope("webcrawler", harness.index)
    harness.run()
    stored = harness.state.get_checkpoint(scope)
    harness.run()
    assert harness.state.get_checkpoint(scope) == stored
    page = site.url("/section/3/page-3.html")
    site.pages["/section/3/page-3.html"] = Response(html("Section 3 page 3", "<p>now about otters</p>"))
    harness.run()
    renewed = harness.state.get_checkpoint(scope)
    assert renewed != stored
    assert records.decode(renewed, renewed["scope"])[page] != records.decode(stored, stored["scope"])[page]
    site.requests.clear()
    run = harness.run()
    assert run.report.unchanged == run.report.scanned
    assert next(r for r in site.requests if r.path == "/section/3/page-3.html").status == 304


def test_conditional_requests_carry_etag_or_last_modified(harness: ConnectorHarness, site: Site) -> None:
    harness.run()
    site.requests.clear()
    harness.run()
    with_etag = next(r for r in site.requests if r.path == "/section/1/page-1.html")
    assert with_etag.headers["if-none-match"].startswith('"')
    # Section 9 sends Last-Modified only: the crawler asks If-Modified-Since.
    only_date = next(r for r in site.requests if r.path == "/section/9/page-1.html")
    assert only_date.headers["if-modified-since"] == LAST_MODIFIED
    assert only_date.status == 304


def test_changed_page_is_updated(harness: ConnectorHarness, site: Site) -> None:
    harness.run()
    site.pages["/section/5/page-5.html"] = Response(html("Section 5 page 5", "<p>now about walruses</p>"))
    run = harness.run()
    assert run.report.updated == 1
    assert [hit.id for hit in run.search("walruses")] == [site.url("/section/5/page-5.html")]


def test_links_of_unchanged_pages_still_reach_new_pages(harness: ConnectorHarness, site: Site) -> None:
    """A page answered 304 keeps its links from the last run; a changed page brings new ones."""
    harness.run()
    site.pages["/section/6/page-0.html"] = Response(
        html("Section 6 page 0", '<a href="/brand-new.html">new</a><a href="page-1.html">next</a>')
    )
    site.pages["/brand-new.html"] = Response(html("Brand new", "<p>kiwis</p>"))
    run = harness.run()
    assert site.url("/brand-new.html") in run.document_ids()
    assert site.url("/section/6/page-24.html") in run.document_ids()


def test_page_that_became_404_or_410_is_deleted(harness: ConnectorHarness, site: Site) -> None:
    harness.run()
    del site.pages["/section/7/page-3.html"]
    site.pages["/section/7/page-4.html"] = Response(html("Gone", ""), status=410)
    run = harness.run()
    assert site.url("/section/7/page-3.html") not in run.document_ids()
    assert site.url("/section/7/page-4.html") not in run.document_ids()
    assert run.report.deleted == 2


def test_page_no_longer_linked_is_deleted(harness: ConnectorHarness, site: Site) -> None:
    harness.run()
    home = site.pages["/"]
    site.pages["/"] = Response(home.body.replace(b'<a href="/no-title.html">No title</a>', b""))
    run = harness.run()
    assert site.url("/no-title.html") not in run.document_ids()
    assert run.report.deleted == 1


def test_page_failing_with_5xx_keeps_its_indexed_copy(harness: ConnectorHarness, site: Site) -> None:
    harness.run()
    site.pages["/section/8/page-8.html"] = Response(html("Broken", ""), status=503)
    site.pages["/section/8/page-9.html"] = Response(html("Forbidden", ""), status=403)
    run = harness.run()
    assert site.url("/section/8/page-8.html") in run.document_ids()
    assert site.url("/section/8/page-9.html") in run.document_ids()
    assert run.report.deleted == 0
    assert run.report.kept >= 2


def test_pages_below_a_failing_page_are_still_reached(harness: ConnectorHarness, site: Site) -> None:
    """The section index fails; its pages are reached through the links it had last time."""
    harness.run()
    site.pages["/section/4/"] = Response(html("Down", ""), status=500)
    run = harness.run()
    assert site.url("/section/4/page-0.html") in run.document_ids()
    assert run.report.deleted == 0


def test_unreadable_robots_txt_keeps_the_whole_site(harness: ConnectorHarness, site: Site) -> None:
    first = harness.run()
    site.robots_status = 503
    site.requests.clear()
    run = harness.run()
    assert run.report.deleted == 0
    assert len(run.document_ids()) == len(first.document_ids())
    assert {r.path for r in site.requests} == {"/robots.txt"}  # nothing else fetched in this run


def test_redirect_to_a_site_with_unreadable_robots_txt_keeps_that_site_only(
    site: Site, other: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    """/other redirects to the second site, whose robots.txt then fails: the second site's pages
    are kept, and the first site is not protected by it (a page gone from it is deleted)."""
    other.pages["/internal.html"] = Response(html("Internal", "<p>reached through a redirect</p>"))
    settings = {**config, "allowed_domains": ["=127.0.0.1", "=127.0.0.2"], "allow_private_networks": True}
    with ConnectorHarness("webcrawler", settings, directory=tmp_path) as harness:
        first = harness.run()
        internal = other.url("/internal.html")
        assert internal in first.document_ids()
        other.robots_status = 503
        gone = site.url("/section/2/page-3.html")
        del site.pages["/section/2/page-3.html"]
        run = harness.run()
        assert internal in run.document_ids()
        assert gone not in run.document_ids()
    assert run.report.deleted == 1


def test_a_new_index_gets_everything_again(site: Site, config: dict, tmp_path) -> None:  # type: ignore[type-arg]
    """The checkpoint belongs to one destination: another index downloads every page."""
    with ConnectorHarness("webcrawler", config, directory=tmp_path / "a") as first:
        first.run()
    site.requests.clear()
    with ConnectorHarness("webcrawler", config, directory=tmp_path / "b") as second:
        run = second.run()
    assert run.report.added == run.report.scanned
    assert not any(r.status == 304 for r in site.requests)


def test_page_not_recorded_by_the_engine_is_downloaded_again(harness: ConnectorHarness, site: Site) -> None:
    """A conditional request is sent only when the engine recorded the same version."""
    first = harness.run()
    page = site.url("/section/2/page-2.html")
    scope = state_scope("webcrawler", harness.index)
    harness.state.forget(scope, [page])
    site.requests.clear()
    run = harness.run()
    request = next(r for r in site.requests if r.path == "/section/2/page-2.html")
    assert "if-none-match" not in request.headers
    assert request.status == 200
    assert run.report.added == 1
    assert run.report.unchanged == first.report.scanned - 1


def test_an_unexpected_error_fails_the_run_and_deletes_nothing(
    harness: ConnectorHarness, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = harness.run()
    site.pages["/section/3/page-3.html"] = Response(html("Section 3 page 3", "<p>changed</p>"))

    def broken_parser(url: str, body: bytes, robots_names: tuple[str, ...] = ()) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(crawler, "parse_page", broken_parser)
    run = harness.run(check=False)
    assert run.report.status.value == "failed"
    assert "parser exploded" in (run.report.error or "")
    assert run.report.deleted == 0
    assert run.document_ids() == first.document_ids()
