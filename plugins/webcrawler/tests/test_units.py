"""The crawler's parts on their own: URLs, HTML, sitemaps, page records, settings, secrets."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from ccf_core import ConnectorConfigError
from ccf_core.secrets import SecretReferenceError
from ccf_webcrawler import WebCrawlerConfig, WebCrawlerConnector
from ccf_webcrawler.fetch import Validators, retry_after_seconds
from ccf_webcrawler.html import parse_page
from ccf_webcrawler.records import CHECKPOINT_BUDGET, PageRecord, decode, encode, version_of
from ccf_webcrawler.secrets import resolve_headers
from ccf_webcrawler.sitemaps import SitemapError, parse_sitemap
from ccf_webcrawler.urls import MAX_DOCUMENT_ID, Scope, document_id, normalise_url

# -- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("HTTP://Docs.Example.COM:80/a/b", "http://docs.example.com/a/b"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c#part", "https://example.com/a/c"),
        ("https://example.com/p?b=2&a=1", "https://example.com/p?a=1&b=2"),
        ("https://example.com/p?utm_source=x&id=3", "https://example.com/p?id=3"),
        ("https://example.com/%7euser/%41", "https://example.com/~user/A"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ],
)
def test_urls_are_normalised(written: str, normal: str) -> None:
    assert normalise_url(written, ignored_parameters=["utm_*"]) == normal


def test_relative_links_resolve_against_the_base() -> None:
    assert normalise_url("../x.html", base="https://example.com/a/b/") == "https://example.com/a/x.html"


@pytest.mark.parametrize("url", ["mailto:a@b.c", "ftp://example.com/", "javascript:void(0)", "http://[::1"])
def test_non_http_urls_are_not_followed(url: str) -> None:
    assert normalise_url(url) is None


def test_trailing_slash_policy() -> None:
    assert normalise_url("https://example.com/docs/", trailing_slash="strip") == "https://example.com/docs"
    assert normalise_url("https://example.com/", trailing_slash="strip") == "https://example.com/"
    assert normalise_url("https://example.com/docs/", trailing_slash="keep") == "https://example.com/docs/"


def test_document_id_is_the_url_within_the_limit() -> None:
    assert document_id("https://example.com/a") == "https://example.com/a"
    long = "https://example.com/" + "a" * 3000
    doc_id = document_id(long)
    assert len(doc_id) <= MAX_DOCUMENT_ID
    assert doc_id.startswith("https://example.com/aaa")
    assert doc_id != document_id(long + "b")


def test_allowed_domains_include_subdomains_unless_exact() -> None:
    config = WebCrawlerConfig(
        start_urls=["https://example.com/"], allowed_domains=["example.com", "=intra.net"]
    )
    scope = Scope.from_config(config)
    assert scope.host_allowed("https://docs.example.com/x")
    assert scope.host_allowed("https://intra.net/x")
    assert not scope.host_allowed("https://wiki.intra.net/x")
    assert not scope.host_allowed("https://badexample.com/x")


def test_default_allowed_domains_are_the_start_hosts_only() -> None:
    scope = Scope.from_config(WebCrawlerConfig(start_urls=["https://docs.example.com/"]))
    assert scope.host_allowed("https://docs.example.com/a")
    assert not scope.host_allowed("https://example.com/a")


# -- HTML ---------------------------------------------------------------------------------------


def test_page_parts_are_read() -> None:
    body = b"""<html><head><title> A  page </title><base href="https://example.com/docs/">
    <link rel="canonical" href="/main"><meta name="ROBOTS" content="NOINDEX, follow"></head>
    <body><a href="a.html">a</a><a href="a.html">again</a><a rel="nofollow" href="b.html">b</a>
    <a href="#top">top</a><area href="c.html"></body></html>"""
    page = parse_page("https://example.com/x/y.html", body)
    assert page.title == "A page"
    assert page.canonical == "https://example.com/main"
    assert page.noindex and not page.nofollow
    assert page.links == ["https://example.com/docs/a.html", "https://example.com/docs/c.html"]


def test_meta_nofollow_drops_every_link() -> None:
    page = parse_page("https://e.com/", b'<meta name="robots" content="nofollow"><a href="/x">x</a>')
    assert page.nofollow and page.links == []


# -- sitemaps -----------------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc> https://example.com/a </loc><lastmod>2026-01-01</lastmod></url><url><loc>https://example.com/b</loc></url>
</urlset>"""


def test_sitemap_urlset_and_gzip() -> None:
    assert parse_sitemap(URLSET).urls == ["https://example.com/a", "https://example.com/b"]
    assert parse_sitemap(gzip.compress(URLSET)).urls == ["https://example.com/a", "https://example.com/b"]


def test_sitemap_index_lists_sitemaps() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://example.com/s1.xml</loc></sitemap></sitemapindex>"""
    parsed = parse_sitemap(index)
    assert parsed.sitemaps == ["https://example.com/s1.xml"] and parsed.urls == []


def test_sitemap_entities_are_not_expanded() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <urlset><url><loc>https://example.com/&x;</loc></url></urlset>"""
    urls = parse_sitemap(evil).urls
    assert all("root:" not in url for url in urls)


@pytest.mark.parametrize("data", [b"<html><body>no</body></html>", b"not xml at all <", b"\x1f\x8b broken"])
def test_bad_sitemaps_are_reported(data: bytes) -> None:
    with pytest.raises(SitemapError):
        parse_sitemap(data)


# -- page records (the checkpoint) --------------------------------------------------------------


def test_page_records_survive_the_checkpoint() -> None:
    records = {
        "https://e.com/": PageRecord(
            Validators('"1"', None), True, True, None, ("https://e.com/a", "https://e.com/b")
        ),
        "https://e.com/a": PageRecord(
            Validators(None, "Tue, 03 Mar 2026 10:00:00 GMT"), True, False, "https://e.com/"
        ),
        "https://e.com/f.pdf": PageRecord(Validators('W/"x"', None), False, True, None, None),
    }
    checkpoint = encode(records, "scope-1")
    json.dumps(checkpoint)  # stored as JSON
    assert decode(checkpoint, "scope-1") == records


def test_records_of_other_settings_are_ignored() -> None:
    records = {"https://e.com/": PageRecord(Validators('"1"'), True, True)}
    assert decode(encode(records, "scope-1"), "scope-2") == {}
    assert decode({"format": 1, "scope": "scope-1", "pages": "not base64!"}, "scope-1") == {}


def test_records_over_budget_drop_links_first() -> None:
    records = {
        f"https://e.com/{n}": PageRecord(
            Validators(f'"{n}"'), True, True, None, tuple(f"https://e.com/{n}/{k}" for k in range(50))
        )
        for n in range(200)
    }
    full = encode(records, "s")
    slim = encode(records, "s", budget=len(full["pages"]) - 1)
    decoded = decode(slim, "s")
    assert decoded["https://e.com/1"].links is None
    assert decoded["https://e.com/1"].validators.etag == '"1"'
    assert not decoded["https://e.com/1"].reusable  # an HTML page without links is downloaded again


def test_version_holds_both_validators() -> None:
    assert (
        version_of(Validators('"a"', "Tue, 03 Mar 2026 10:00:00 GMT"))
        == 'etag:"a" lm:Tue, 03 Mar 2026 10:00:00 GMT'
    )
    assert version_of(Validators()) is None
    assert version_of(Validators('"' + "x" * 300 + '"')) is None


def test_retry_after_in_seconds_or_date_is_capped() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("86400") == 120.0
    assert retry_after_seconds("Tue, 03 Mar 2020 10:00:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


# -- settings -----------------------------------------------------------------------------------


def test_list_fields_accept_comma_separated_strings() -> None:
    config = WebCrawlerConfig.model_validate(
        {
            "start_urls": "https://a.example/, https://b.example/",
            "content_types": "HTML,PDF",
            "allowed_domains": "a.example",
        }
    )
    assert config.start_urls == ["https://a.example/", "https://b.example/"]
    assert [str(t) for t in config.content_types] == ["HTML", "PDF"]
    assert config.allowed_domains == ["a.example"]


def test_allow_private_networks_takes_a_bool_or_networks() -> None:
    assert WebCrawlerConfig(
        start_urls=["https://a/"], allow_private_networks="10.0.0.0/8, 192.168.1.0/24"
    ).allow_private_networks == [
        "10.0.0.0/8",
        "192.168.1.0/24",
    ]
    with pytest.raises(ValidationError, match="not a network"):
        WebCrawlerConfig(start_urls=["https://a/"], allow_private_networks=["intranet"])


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "give start_urls or sitemap_urls"),
        ({"start_urls": ["docs.example.com"]}, "start_urls"),
        ({"start_urls": ["https://a/"], "exclude_patterns": ["("]}, "exclude_patterns"),
        ({"start_urls": ["https://a/"], "content_types": ["ZIP"]}, "content_types"),
        ({"start_urls": ["https://a/"], "concurrency": 0}, "concurrency"),
        ({"start_urls": ["https://a/"], "headers": {"Bad Header": "x"}}, "headers"),
        ({"start_urls": ["https://a/"], "max_deph": 3}, "max_deph"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        WebCrawlerConnector.from_config(settings)
    assert field in str(caught.value)


def test_show_config_lists_every_field() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from ccf_runner.run_cli import main; main()", "--show-config", "webcrawler"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in WebCrawlerConfig.model_fields:
        assert name in out.stdout


# -- secrets ------------------------------------------------------------------------------------


def test_header_references_are_resolved_from_the_environment() -> None:
    config = WebCrawlerConfig(
        start_urls=["https://a/"], headers={"Authorization": "env:TOKEN", "X-Team": "docs"}
    )
    assert resolve_headers(config.headers, {"TOKEN": "Bearer abc"}) == {
        "Authorization": "Bearer abc",
        "X-Team": "docs",
    }


def test_missing_reference_names_the_header_not_the_value() -> None:
    config = WebCrawlerConfig(start_urls=["https://a/"], headers={"Authorization": "env:NOPE"})
    with pytest.raises(
        SecretReferenceError, match=r"headers.Authorization: environment variable NOPE is not set"
    ):
        resolve_headers(config.headers, {})


def test_secrets_manager_and_ssm_references(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    import moto

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="intranet", SecretString=json.dumps({"token": "Bearer from-sm"})
        )["ARN"]
        boto3.client("ssm", region_name="eu-west-1").put_parameter(
            Name="/crawler/token", Value="Bearer from-ssm", Type="SecureString"
        )
        ssm_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/crawler/token"
        config = WebCrawlerConfig(start_urls=["https://a/"], headers={"A": f"{arn}#token", "B": ssm_arn})
        assert resolve_headers(config.headers) == {"A": "Bearer from-sm", "B": "Bearer from-ssm"}


def test_records_of_a_20000_page_site_fit_the_checkpoint_budget() -> None:
    """28 links per page (20 navigation links shared by every page, 8 of its own), as in the bench."""
    pages = 20_000
    base = "https://docs.example.com/handbook/chapter"
    hubs = tuple(f"{base}/{h * 1000}.html" for h in range(20))
    records = {
        f"{base}/{n}.html": PageRecord(
            Validators(f'"{n:08x}-5f3a"', "Tue, 03 Mar 2026 10:00:00 GMT"),
            True,
            True,
            None,
            hubs + tuple(f"{base}/{(n + k) % pages}.html" for k in range(1, 9)),
        )
        for n in range(pages)
    }
    checkpoint = encode(records, "s")
    assert len(json.dumps(checkpoint)) < CHECKPOINT_BUDGET
    assert decode(checkpoint, "s")[f"{base}/7.html"].links is not None


def test_an_arn_of_another_partition_is_never_sent_as_the_header_value() -> None:
    config = WebCrawlerConfig(
        start_urls=["https://a/"], headers={"Authorization": "arn:aws-cn:s3:::bucket/key"}
    )
    with pytest.raises(SecretReferenceError, match=r"headers\.Authorization: only Secrets Manager and SSM"):
        resolve_headers(config.headers, {})
