"""The project's conventions, checked as tests (DESIGN.md "Plugins", STYLE.md "Tests")."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(path.parent for path in ROOT.glob("plugins/*/pyproject.toml"))
EXAMPLE_DIRS = sorted(path.parent for path in ROOT.glob("examples/*/pyproject.toml"))


def _ccf_entry_points(project_dir: Path) -> dict[str, str]:
    data = tomllib.loads((project_dir / "pyproject.toml").read_text())
    entry_points: dict[str, str] = data["project"].get("entry-points", {}).get("ccf", {})
    return entry_points


@pytest.mark.parametrize("project_dir", PLUGIN_DIRS + EXAMPLE_DIRS, ids=lambda path: path.name)
def test_connector_package_declares_exactly_one_entry_point(project_dir: Path) -> None:
    entry_points = _ccf_entry_points(project_dir)
    assert len(entry_points) == 1
    if project_dir.parent.name == "plugins":
        assert list(entry_points) == [project_dir.name], "the entry point must be named after the folder"
        data = tomllib.loads((project_dir / "pyproject.toml").read_text())
        assert data["project"]["name"] == f"ccf-connector-{project_dir.name}"


def test_installed_connectors_are_named_like_their_entry_points() -> None:
    from ccf_core.plugins import connector_registry, get_plugin_manager

    get_plugin_manager()
    for info in connector_registry().all():
        if info.plugin != "ccf-builtins":
            assert info.plugin == info.name, f"connector {info.name!r} comes from entry point {info.plugin!r}"


def test_importing_ccf_core_loads_no_aws_sdk_cli_or_plugin() -> None:
    code = (
        "import sys, ccf_core, ccf_core.testing\n"
        "bad = [m for m in ('boto3', 'botocore', 'click', 'ccf_runner', 'ccf_hello') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_ccf_core_never_imports_the_runner() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "ccf_core").rglob("*.py")
        if "ccf_runner" in path.read_text() or "import click" in path.read_text()
    ]
    assert offenders == []
