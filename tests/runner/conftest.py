"""Fixtures of the runner tests: a fresh plugin manager, a clean logging setup, a temp working dir."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccf_core.plugins import reset_plugin_manager
from ccf_runner.logs import RUNNER_LOGGER, forget_secrets


@pytest.fixture(autouse=True)
def fresh_runner_state() -> Iterator[None]:
    """Every test builds its own plugin manager and forgets the secrets a run registered.

    Named apart from the suite-wide ``fresh_plugin_manager`` so that one (which also clears the
    CCF_* plugin-selection variables) still runs.
    """
    reset_plugin_manager()
    forget_secrets()
    yield
    reset_plugin_manager()
    forget_secrets()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Remove the handler ``configure_logging`` installs, and restore the levels it changed."""
    root = logging.getLogger()
    level = root.level
    runner_level = logging.getLogger(RUNNER_LOGGER).level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_ccf_runner", False):
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger(RUNNER_LOGGER).setLevel(runner_level)
    logging.captureWarnings(False)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in its own directory, so ``.ccf/`` lands there; no Q Business ids leak in."""
    monkeypatch.chdir(tmp_path)
    for variable in ("Q_BUSINESS_APP_ID", "Q_BUSINESS_INDEX_ID", "Q_BUSINESS_DATA_SOURCE_ID"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path
