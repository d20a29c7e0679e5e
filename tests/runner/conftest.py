"""Fixtures of the runner tests: a fresh plugin manager, a clean logging setup, a temp working dir."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccf_core.plugins import reset_plugin_manager
from ccf_runner.logs import RUNNER_LOGGER, forget_secrets

#: Builds a folder importlib.metadata sees as an installed distribution with ``ccf`` entry points:
#: ``make_plugin_dir(module_name, source, {entry_point_name: "module[:attr]"})``.
MakePluginDir = Callable[[str, str, dict[str, str]], Path]


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


@pytest.fixture
def make_plugin_dir(tmp_path: Path) -> MakePluginDir:
    """A factory of folders holding a plugin module and the dist-info that declares its entry points."""

    def make(module: str, source: str, entry_points: dict[str, str]) -> Path:
        root = tmp_path / f"site-{module}"
        dist_info = root / f"{module}-0.1.dist-info"
        dist_info.mkdir(parents=True)
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (dist_info / "entry_points.txt").write_text(f"[ccf]\n{lines}")
        return root

    return make
