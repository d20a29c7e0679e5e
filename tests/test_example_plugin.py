"""The example plugin, installed with pip into the test environment, runs through ``ccf-run``.

The nox ``tests`` session installs ``examples/hello-connector``; this proves entry-point discovery
and the console scripts end to end, the way a user runs a third-party connector.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hello-connector"


@pytest.fixture(scope="module")
def installed() -> None:
    try:
        distribution("ccf-connector-hello")
    except PackageNotFoundError:
        pytest.fail("install the example first: pip install -e examples/hello-connector (nox -s tests does)")


def _ccf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which(args[0])
    assert command, f"{args[0]} is not on PATH"
    return subprocess.run(
        [command, *args[1:]], check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_list_shows_the_hello_connector_with_its_distribution(installed: None, tmp_path: Path) -> None:
    result = _ccf("ccf-run", "--list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.split() and line.split()[0] == "hello")
    assert "ccf-connector-hello" in line
    assert "full" in line


def test_hello_syncs_into_the_local_index_and_search_applies_its_acl(installed: None, tmp_path: Path) -> None:
    config = tmp_path / "hello.yaml"
    config.write_text(
        f"path: {json.dumps(str(EXAMPLE / 'sample-docs'))}\n"
        "restricted: {engineering: engineers}\n"
        "members: {engineers: [alice@example.com]}\n"
    )
    report_path = tmp_path / "report.json"
    run = _ccf(
        "ccf-run",
        "--connector",
        "hello",
        "--config",
        str(config),
        "--report-json",
        str(report_path),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "local index" in run.stderr.splitlines()[0]
    report = json.loads(report_path.read_text())
    assert (report["scanned"], report["added"], report["failed"]) == (5, 5, 0)

    alice = _ccf("ccf", "search", "deploy", "--as-user", "alice@example.com", "--json", cwd=tmp_path)
    bob = _ccf("ccf", "search", "deploy", "--as-user", "bob@example.com", "--json", cwd=tmp_path)
    assert [hit["id"] for hit in json.loads(alice.stdout)["hits"]] == ["engineering/deploys.md"]
    assert json.loads(bob.stdout)["hits"] == []


def test_second_run_of_the_installed_plugin_uploads_nothing(installed: None, tmp_path: Path) -> None:
    args = ("ccf-run", "--connector", "hello", "--set", f"path={EXAMPLE / 'sample-docs'}")
    assert _ccf(*args, cwd=tmp_path).returncode == 0
    second = _ccf(*args, "--report-json", "-", cwd=tmp_path)
    report = json.loads(second.stdout)
    assert (report["unchanged"], report["added"], report["updated"]) == (5, 0, 0)
