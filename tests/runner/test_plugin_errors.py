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


def test_list_shows_a_connector_class_with_a_bad_sync_mode_as_a_plugin_error(
    make_plugin_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        from ccf_core import Connector, hookimpl

        class Odd(Connector):
            name = "odd"
            sync_mode = "sometimes"

            def documents(self, context):
                return []

        @hookimpl
        def ccf_register_connectors(registry):
            registry.register(Odd)
    """
    monkeypatch.syspath_prepend(str(make_plugin_dir("oddplug", source, {"odd": "oddplug"})))
    result = CliRunner().invoke(main, ["--list", "--log-format", "text"])
    assert result.exit_code == exit_codes.SUCCESS
    assert "Traceback" not in result.output
    listing = result.stdout.split("Plugins that failed to load", 1)[1]
    assert "odd" in listing and "sync_mode 'sometimes' is not one of" in listing


def test_running_a_connector_whose_class_is_invalid_fails_with_the_reason(
    make_plugin_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        from ccf_core import Connector, hookimpl

        class Lazy(Connector):
            name = "lazy"

        @hookimpl
        def ccf_register_connectors(registry):
            registry.register(Lazy)
    """
    monkeypatch.syspath_prepend(str(make_plugin_dir("lazyplug", source, {"lazy": "lazyplug"})))
    result = CliRunner().invoke(main, ["--connector", "lazy", "--log-format", "text"])
    assert result.exit_code == exit_codes.FAILED
    assert "it does not implement documents(self, context)" in result.stderr
