"""``ccf-run`` and plugins that fail to import: listed with their error, fatal only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ccf_runner import exit_codes
from ccf_runner.run_cli import main


@pytest.fixture(autouse=True)
def broken_plugin(make_plugin_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed plugin ``broken`` whose module raises on import (set up before plugins load)."""
    site = make_plugin_dir("brokenplug", "raise ImportError('needs libfoo')\n", {"broken": "brokenplug"})
    monkeypatch.syspath_prepend(str(site))


def test_list_shows_a_broken_plugin_with_its_error() -> None:
    result = CliRunner().invoke(main, ["--list", "--log-format", "text"])
    assert result.exit_code == exit_codes.SUCCESS
    listing = result.stdout.split("Plugins that failed to load", 1)[1]
    assert "broken" in listing and "ImportError: needs libfoo" in listing


def test_running_the_broken_plugins_connector_fails_at_once_with_its_load_error() -> None:
    result = CliRunner().invoke(main, ["--connector", "broken", "--log-format", "text"])
    assert result.exit_code == exit_codes.FAILED
    assert "plugin 'broken' failed to load: ImportError: needs libfoo" in result.stderr
    assert not Path(".ccf/index.db").exists()


def test_unknown_connector_also_names_plugins_that_failed_to_load() -> None:
    result = CliRunner().invoke(main, ["--connector", "nope", "--log-format", "text"])
    assert result.exit_code == exit_codes.CONNECTOR_NOT_FOUND
    assert "plugins that failed to load:\n  broken: plugin 'broken' failed to load" in result.stderr
