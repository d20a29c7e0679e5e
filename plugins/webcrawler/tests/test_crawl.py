"""Crawling the fixture website into a local index: what becomes a document and what does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ccf_core.testing import ConnectorHarness, assert_conformant
from ccf_webcrawler import WebCrawlerConnector
from tests.site import ORPHANS, PAGES_PER_SECTION, SECTIONS, Site


def crawl(config: dict[str, Any], tmp_path: Path) -> ConnectorHarness:
    return ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path)


def test_every_section_page_becomes_one_document(crawled: Any) -> None:
    site, run = crawled
    ids = set(run.document_ids())
    for s in range(SECTIONS):
        for n in range(PAGES_PER_SECTION):
            assert site.url(f"/section/{s}/page-{n}.html") in ids
    assert run.report.failed == 0
    assert run.report.scanned == len(ids) > SECTIONS * PAGES_PER_SECTION


def test_searches_find_crawled_pages(crawled: Any) -> None:
    site, run = crawled
    hits = run.search("s4p17")
    assert [hit.id for hit in hits] == [site.url("/section/4/page-17.html")]


def test_html_title_attributes_and_source_uri(crawled: Any) -> None:
    site, run = crawled
    doc = run.document(site.url("/section/2/page-3.html"))
    assert doc.title == "Section 2 page 3"
    assert doc.content_type == "HTML"
    assert doc.source_uri == site.url("/section/2/page-3.html")
    assert doc.attributes["crawl_depth"] == 2
    assert doc.attributes["content_length"] > 100
    assert doc.last_updated_at is not None
    assert doc.last_updated_at.isoformat().startswith("2026-03-03T10:00:00")


def test_title_falls_back_to_the_first_heading(crawled: Any) -> None:
    site, run = crawled
    assert run.document(site.url("/no-title.html")).title == "Heading as title"


def test_linked_files_get_their_content_types(crawled: Any) -> None:
    site, run = crawled
    assert run.document(site.url("/files/handbook.pdf")).content_type == "PDF"
    # Served as text/plain, but the .md extension says Markdown.
    assert run.document(site.url("/files/notes.md")).content_type == "MD"
    assert run.document(site.url("/files/notes.md")).title == "notes.md"
    assert run.document(site.url("/files/figures.csv")).content_type == "CSV"
    assert [hit.id for hit in run.search("zebra")] == [site.url("/files/notes.md")]


def test_images_are_never_fetched(crawled: Any) -> None:
    site, _ = crawled
    assert site.fetched("/files/logo.png") == 0


def test_sitemap_index_from_robots_txt_with_gzip_sitemap_adds_orphan_pages(crawled: Any) -> None:
    site, run = crawled
    for o in range(ORPHANS):
        assert site.url(f"/orphans/{o}.html") in run.document_ids()


def test_robots_txt_disallowed_paths_are_not_fetched(crawled: Any) -> None:
    site, run = crawled
    assert site.fetched("/private/secret.html") == 0
    assert site.url("/private/secret.html") not in run.document_ids()
    assert site.fetched("/robots.txt") == 1


def test_robots_txt_ignored_when_configured(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    run = crawl({**config, "respect_robots_txt": False, "max_depth": 1}, tmp_path).run()
    assert site.url("/private/secret.html") in run.document_ids()


def test_crawl_delay_spaces_requests(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 0.2\n"
    crawl({**config, "max_pages": 4, "discover_sitemaps": False}, tmp_path).run()
    times = [r.at for r in site.requests if r.path != "/robots.txt"]
    assert len(times) == 4
    # Three waits of 0.2 s lie between the four requests. A busy machine only makes the span
    # longer; one request's arrival may lag, so single gaps are not compared.
    assert times[-1] - times[0] >= 0.5


def test_redirect_inside_the_site_indexes_the_target_once(crawled: Any) -> None:
    site, run = crawled
    ids = run.document_ids()
    assert site.url("/moved-target.html") in ids
    assert site.url("/moved") not in ids
    assert site.url("/old-page") not in ids
    assert ids.count(site.url("/section/0/page-0.html")) == 1
    # Linked from its section and the target of /old-page: downloaded once, whichever comes first.
    assert site.fetched("/section/0/page-0.html") == 1


def test_redirect_outside_the_allowed_domains_is_not_followed(crawled: Any) -> None:
    site, run = crawled
    assert not any("outside.invalid" in doc_id for doc_id in run.document_ids())
    assert site.url("/away") not in run.document_ids()


def test_redirect_loop_is_stopped(crawled: Any) -> None:
    site, run = crawled
    assert site.fetched("/loop-a") <= 2
    assert site.url("/loop-a") not in run.document_ids()


def test_missing_and_removed_pages_are_not_indexed(crawled: Any) -> None:
    site, run = crawled
    for path in ("/status/404.html", "/status/410.html", "/status/500.html"):
        assert site.url(path) not in run.document_ids()
    assert site.fetched("/status/404.html") == 1


def test_server_errors_are_retried(crawled: Any) -> None:
    site, _ = crawled
    assert site.fetched("/status/500.html") == 4  # first try and max_retries (3)


def test_a_page_that_kept_failing_is_named_in_the_report(crawled: Any) -> None:
    site, run = crawled
    problems = {problem.document_id: problem for problem in run.report.problems}
    assert site.url("/status/500.html") in problems
    assert site.url("/status/404.html") not in problems  # gone, not failed
    assert run.report.status == "completed_with_failures"


def test_429_is_retried_after_retry_after(crawled: Any) -> None:
    site, run = crawled
    assert site.url("/status/429.html") in run.document_ids()
    busy = [r for r in site.requests if r.path == "/status/429.html"]
    assert [r.status for r in busy] == [429, 200]
    assert busy[1].at - busy[0].at >= 0.95  # Retry-After: 1, although the backoff is 0.01 s


def test_canonical_link_makes_one_document(crawled: Any) -> None:
    site, run = crawled
    assert site.url("/print/section-1-page-0.html") not in run.document_ids()
    assert site.url("/section/1/page-0.html") in run.document_ids()


def test_noindex_page_is_not_indexed_but_its_links_are_followed(crawled: Any) -> None:
    site, run = crawled
    assert site.url("/noindex.html") not in run.document_ids()
    assert site.url("/only-via-noindex.html") in run.document_ids()


def test_nofollow_links_are_not_followed(crawled: Any) -> None:
    site, _ = crawled
    assert site.fetched("/never-a.html") == 0  # <meta name=robots content=nofollow>
    assert site.fetched("/never-b.html") == 0  # <a rel=nofollow>


def test_base_href_resolves_relative_links(crawled: Any) -> None:
    site, run = crawled
    assert site.url("/based/target.html") in run.document_ids()
    assert site.fetched("/base/target.html") == 0


def test_differently_written_links_are_one_document(crawled: Any) -> None:
    site, run = crawled
    ids = run.document_ids()
    assert site.url("/section/3/page-2.html?a=1&b=2") in ids
    assert not any("utm_source" in doc_id or "#" in doc_id or "/Section/" in doc_id for doc_id in ids)
    assert site.fetched("/section/3/page-2.html?a=1&b=2") == 1
    assert site.fetched("/section/3/page-2.html?b=2&a=1&utm_source=mail") == 0


def test_max_depth_bounds_deep_chains_and_calendar_traps(crawled: Any) -> None:
    site, run = crawled
    ids = run.document_ids()
    assert site.url("/deep/8.html") in ids  # home is depth 0, /deep/1 depth 1
    assert site.url("/deep/9.html") not in ids
    assert site.fetched("/deep/9.html") == 0
    calendar = [r.path for r in site.requests if r.path.startswith("/calendar/")]
    assert len(calendar) == 8


def test_max_url_length_stops_ever_growing_urls(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    settings = {**config, "max_depth": 12, "max_url_length": len(site.url("/calendar/2026/1"))}
    run = crawl(settings, tmp_path).run()
    assert site.url("/calendar/2026/9") in run.document_ids()
    assert site.fetched("/calendar/2026/10") == 0


def test_max_pages_caps_the_crawl(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    settings = {
        **config,
        "start_urls": [site.url("/section/0/")],
        "max_pages": 20,
        "discover_sitemaps": False,
    }
    run = crawl(settings, tmp_path).run()
    pages = [r for r in site.requests if r.path != "/robots.txt"]
    assert len(pages) == 20
    assert len(run.document_ids()) <= 20


def test_include_and_exclude_patterns(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    settings = {**config, "include_patterns": ["/section/"], "exclude_patterns": ["/section/[1-9]/"]}
    run = crawl(settings, tmp_path).run()
    ids = run.document_ids()
    assert site.url("/") in ids  # a start URL is always fetched
    assert site.url("/section/0/page-5.html") in ids
    assert not any("/section/5/" in i or "/deep/" in i for i in ids)


def test_content_types_limit_what_is_indexed(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    run = crawl({**config, "content_types": "HTML, MD", "max_depth": 1}, tmp_path).run()
    ids = run.document_ids()
    assert site.url("/files/notes.md") in ids
    assert site.url("/files/handbook.pdf") not in ids
    assert site.url("/files/figures.csv") not in ids


def test_html_not_indexed_still_followed(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    run = crawl(
        {**config, "content_types": ["PDF"], "max_depth": 1, "discover_sitemaps": False}, tmp_path
    ).run()
    assert run.document_ids() == [site.url("/files/handbook.pdf")]


def test_body_larger_than_the_cap_is_not_downloaded(
    site: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**config, "max_depth": 1, "discover_sitemaps": False}
    run = crawl(config, tmp_path).run()
    assert site.url("/files/huge.txt") in run.document_ids()  # 2 MiB, under the default cap
    capped = crawl({**config, "max_body_bytes": 1024 * 1024}, tmp_path).run()
    # Too large now: reported, and its indexed copy kept rather than deleted.
    assert site.url("/files/huge.txt") in capped.document_ids()
    fresh = crawl({**config, "max_body_bytes": 1024 * 1024}, tmp_path / "fresh").run()
    assert site.url("/files/huge.txt") not in fresh.document_ids()


def test_request_headers_resolve_secret_references(
    site: Site,
    config: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("INTRANET_TOKEN", "Bearer s3cr3t-value")
    settings = {**config, "headers": {"Authorization": "env:INTRANET_TOKEN"}, "max_pages": 3}
    with caplog.at_level("DEBUG"):
        crawl(settings, tmp_path).run()
    assert {r.headers.get("authorization") for r in site.requests} == {"Bearer s3cr3t-value"}
    assert "s3cr3t" not in caplog.text


def test_user_agent_is_sent(site: Site, config: dict[str, Any], tmp_path: Path) -> None:
    crawl({**config, "user_agent": "intranet-bot/2", "max_pages": 2}, tmp_path).run()
    assert {r.headers.get("user-agent") for r in site.requests} == {"intranet-bot/2"}


def test_the_connector_is_conformant(site: Site, config: dict[str, Any]) -> None:
    assert_conformant(WebCrawlerConnector, sample_config={**config, "max_pages": 5})
