"""Secrets are masked in their common encodings too, and undecodable file names are printed escaped."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, SecretStr

from ccf_core import Connector, Document, SyncContext, hookimpl
from ccf_core.plugins import registered_plugin
from ccf_core.registry import ConnectorRegistry
from ccf_runner import exit_codes
from ccf_runner.logs import mask_secrets, register_secret
from ccf_runner.run_cli import main

SECRET = "p@ss/w:rd+1é"


@pytest.mark.parametrize(
    "encoded",
    [
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
    ],
)
def test_encoded_secret_is_masked(encoded: str) -> None:
    register_secret(SECRET)
    masked = mask_secrets(f"GET https://api.example.com/?token={encoded}&page=2")
    assert encoded.rstrip("=") not in masked
    assert "page=2" in masked


@pytest.mark.parametrize("prefix", ["u:", "us:", "use:"])
def test_secret_inside_a_base64_basic_header_is_masked(prefix: str) -> None:
    register_secret(SECRET)
    header = base64.b64encode(f"{prefix}{SECRET}".encode()).decode()
    masked = mask_secrets(f"Authorization: Basic {header}")
    assert header not in masked
    assert "***" in masked


def test_ordinary_text_is_left_alone() -> None:
    register_secret(SECRET)
    assert mask_secrets("nothing secret here: 12345") == "nothing secret here: 12345"


class TokenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr


class Quoting(Connector):
    """Fails quoting its token URL-encoded, as an HTTP library's exception does."""

    name = "quoting"
    Config = TokenConfig
    config: TokenConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        token = quote(self.config.token.get_secret_value(), safe="")
        context.logger.info("calling https://api.example.com/?token=%s", token)
        raise RuntimeError(f"401 for https://api.example.com/?token={token}")


@hookimpl
def _register(registry: ConnectorRegistry) -> None:
    registry.register(Quoting)


@pytest.fixture
def quoting() -> Iterator[None]:
    with registered_plugin(SimpleNamespace(ccf_register_connectors=_register)):
        yield


def test_url_encoded_secret_is_masked_on_stdout_stderr_and_the_json_report(quoting: None) -> None:
    args = ["--log-format", "json", "--connector", "quoting", "--set", f"token={SECRET}"]
    result = CliRunner().invoke(main, [*args, "--report-json", "r.json"])
    assert result.exit_code == exit_codes.FAILED
    encoded = quote(SECRET, safe="")
    for text in (result.stdout, result.stderr, Path("r.json").read_text()):
        assert encoded not in text
        assert SECRET not in text
    assert "token=***" in result.stdout


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_file_name_that_is_not_utf8_is_explained_and_printed_escaped(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fine.md").write_text("# Fine\n", encoding="utf-8")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "w", encoding="utf-8") as handle:
        handle.write("# Cafe\n")
    result = CliRunner().invoke(
        main, ["--log-format", "text", "--connector", "hello", "--set", f"path={docs}", "--error-budget", "1"]
    )
    assert result.exit_code == exit_codes.COMPLETED_WITH_REJECTED_DOCUMENTS, result.output
    assert b"\xe9" not in result.stdout_bytes
    assert "\udce9" not in result.stdout
    assert "    caf\\xe9.md: document 'caf\\xe9.md': id characters" in result.stdout
    assert "not valid UTF-8 text (bytes 0xE9" in result.stdout
    assert "control or format characters" not in result.stdout
