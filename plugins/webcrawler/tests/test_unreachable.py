"""A site that cannot be reached: the run names it, ends completed with failures and deletes nothing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ccf_core.testing import ConnectorHarness
from ccf_runner.run_cli import main
from ccf_webcrawler import WebCrawlerConnector
from tests.conftest import served, settings
from tests.site import Site

COMPLETED_WITH_FAILURES = 3  # ccf-run's exit code


def closed_port() -> int:
    """A port of 127.0.0.1 nobody listens on (bound, then closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def unreachable_settings() -> dict[str, Any]:
    return {
        "start_urls": [f"http://127.0.0.1:{closed_port()}/"],
        "allow_private_networks": ["127.0.0.1/32"],
        "retry_backoff_seconds": 0.01,
        "timeout_seconds": 5,
    }


def test_a_start_url_nobody_answers_is_named_in_the_report(tmp_path: Path) -> None:
    config = unreachable_settings()
    start = config["start_urls"][0]
    run = ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path).run()
    assert run.report.status == "completed_with_failures"
    [problem] = run.report.problems
    assert problem.document_id == start
    assert problem.message.startswith(f"{start}robots.txt: cannot connect: ")
    assert "Traceback" not in problem.message and "\n" not in problem.message


def test_a_start_url_nobody_answers_is_reported_without_robots_txt_too(tmp_path: Path) -> None:
    config = {**unreachable_settings(), "respect_robots_txt": False, "discover_sitemaps": False}
    start = config["start_urls"][0]
    run = ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path).run()
    assert run.report.status == "completed_with_failures"
    assert [(p.document_id, p.message.split(": ")[:2]) for p in run.report.problems] == [
        (start, [start, "cannot connect"])
    ]


def test_a_site_that_went_down_keeps_its_pages_and_fails_the_run(tmp_path: Path) -> None:
    with served() as site:
        config = settings(site)
        with ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path) as harness:
            indexed = harness.run().document_ids()
    # The server is closed now: its port refuses connections, as a site that is down.
    with ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path) as harness:
        run = harness.run()
        assert run.document_ids() == indexed
    assert run.report.deleted == 0
    assert run.report.kept == len(indexed)
    assert run.report.status == "completed_with_failures"
    problems = {problem.document_id: problem.message for problem in run.report.problems}
    assert problems[site.url("/")].startswith(site.url("/robots.txt: cannot connect: "))


def test_robots_txt_answering_5xx_is_named_in_the_report(harness: ConnectorHarness, site: Site) -> None:
    site.robots_status = 503
    run = harness.run()
    assert run.report.status == "completed_with_failures"
    message = next(p.message for p in run.report.problems if p.document_id == site.url("/"))
    assert message.startswith(site.url("/robots.txt: HTTP 503"))
    assert "indexed pages are kept" in message


def test_robots_txt_answering_404_means_no_rules_and_no_problem(
    site: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    site.robots_status = 404
    run = ConnectorHarness(WebCrawlerConnector, {**config, "max_depth": 0}, directory=tmp_path).run()
    assert run.report.status == "succeeded"
    assert run.report.problems == []
    assert run.document_ids() == [site.url("/")]


def test_the_secret_header_is_not_in_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTRANET_TOKEN", "Bearer s3cr3t-value")
    config = {**unreachable_settings(), "headers": {"Authorization": "env:INTRANET_TOKEN"}}
    run = ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path).run()
    assert run.report.problems
    assert "s3cr3t" not in run.report.to_json()


def test_ccf_run_exits_3_with_one_line_naming_the_url(tmp_path: Path) -> None:
    start = unreachable_settings()["start_urls"][0]
    args = ["--connector", "webcrawler", "--set", f"start_urls={start}"]
    args += ["--set", "allow_private_networks=true", "--set", "retry_backoff_seconds=0.01"]
    args += ["--index", str(tmp_path / "index.db"), "--state", str(tmp_path / "state.db")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == COMPLETED_WITH_FAILURES, result.output
    assert "Traceback" not in result.output
    [line] = [line for line in result.output.splitlines() if "could not list" in line]
    expected = f"could not list {start} (unavailable): {start}robots.txt: cannot connect: "
    assert line.strip().startswith(expected)
