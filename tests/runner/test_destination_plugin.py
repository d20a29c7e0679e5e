"""A third-party destination package, built and pip-installed, is chosen with ``ccf-run --destination``.

The package lives in a temporary folder, is installed with pip into a folder of its own, and is
found through its ``ccf`` entry point like any installed plugin; its settings come from
``--destination-set``, ``CCF_DESTINATION_JSONL_*`` and ``--destination-config`` like a connector's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ccf_runner import exit_codes
from tests.packaging import pip_install

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "hello-connector" / "sample-docs"

PYPROJECT = """
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "ccf-destination-jsonl"
version = "0.3.0"
requires-python = ">=3.11"
dependencies = ["ccf-framework>=0.1"]

[project.entry-points.ccf]
jsonl = "ccf_jsonl.plugin"

[tool.hatch.build.targets.wheel]
packages = ["ccf_jsonl"]
"""

PLUGIN = '''
"""Writes what it receives to documents.jsonl, one JSON object per operation."""

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ccf_core import hookimpl
from ccf_core.ports import BatchLimits, BatchResult


class JsonlSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: Path = Field(description="Folder of documents.jsonl.")
    tags: list[str] = Field(default_factory=list, description="Tags written on every line.")
    token: SecretStr | None = Field(None, description="Pretend API token.")


class JsonlDestination:
    name = "jsonl"
    limits = BatchLimits(max_documents=2)

    def __init__(self, folder, tags=(), token=None):
        self.folder = Path(folder)
        self.tags = list(tags)
        self.identity = f"jsonl:{self.folder.resolve()}"

    def _write(self, **entry):
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "documents.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**entry, "tags": self.tags}) + "\\n")

    def open(self, run):
        self._write(op="open", run=run.run_id)

    def put_documents(self, batch):
        for prepared in batch:
            self._write(op="put", id=prepared.id, title=prepared.document.metadata.title)
        return BatchResult(accepted=[prepared.id for prepared in batch])

    def delete_documents(self, ids):
        for document_id in ids:
            self._write(op="delete", id=document_id)
        return BatchResult(accepted=list(ids))

    def put_groups(self, groups):
        return BatchResult(accepted=[group.name for group in groups])

    def delete_groups(self, names):
        return BatchResult(accepted=list(names))

    def close(self, status):
        self._write(op="close", status=str(status))


@hookimpl
def ccf_register_destinations(registry):
    registry.register(
        "jsonl", JsonlDestination, description="JSON lines in a folder (example)", config=JsonlSettings
    )
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The destination package, built from source and installed with pip into its own folder."""
    source = tmp_path_factory.mktemp("jsonl-src")
    (source / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (source / "ccf_jsonl").mkdir()
    (source / "ccf_jsonl" / "__init__.py").write_text("", encoding="utf-8")
    (source / "ccf_jsonl" / "plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    target = tmp_path_factory.mktemp("jsonl-site")
    pip_install(source, target)
    return target


def ccf_run(
    site: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    for variable in ("CCF_LOAD_PLUGINS", "CCF_DISABLE_PLUGINS", "Q_BUSINESS_APP_ID", "CCF_DESTINATION"):
        environ.pop(variable, None)
    return subprocess.run(
        [sys.executable, "-c", "from ccf_runner.run_cli import main; main()", "--log-format", "text", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "documents.jsonl").read_text().splitlines()]


def test_list_shows_the_installed_destination(site: Path, tmp_path: Path) -> None:
    result = ccf_run(site, "--list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Destinations", 1)[1]
    row = next(line for line in listed.splitlines() if line.split()[:1] == ["jsonl"])
    assert "JSON lines in a folder (example)" in row
    assert {"local", "qbusiness"} <= {line.split()[0] for line in listed.splitlines()[2:] if line.strip()}


def test_show_config_describes_the_destinations_settings(site: Path, tmp_path: Path) -> None:
    result = ccf_run(site, "--show-config", "jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--destination-set FIELD=VALUE" in result.stdout
    for field, variable in (
        ("folder", "CCF_DESTINATION_JSONL_FOLDER"),
        ("tags", "CCF_DESTINATION_JSONL_TAGS"),
    ):
        row = next(line for line in result.stdout.splitlines() if line.startswith(field))
        assert variable in row
    assert "(secret)" in next(line for line in result.stdout.splitlines() if line.startswith("token"))


def test_run_sends_the_documents_to_the_chosen_destination(site: Path, tmp_path: Path) -> None:
    result = ccf_run(
        site,
        "--connector",
        "hello",
        "--set",
        f"path={SAMPLE}",
        "--destination",
        "jsonl",
        "--destination-set",
        "folder=out",
        "--destination-set",
        "tags=a,b",
        cwd=tmp_path,
    )
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    assert "connector hello -> destination jsonl" in result.stderr.splitlines()[0]
    written = lines(tmp_path / "out")
    assert sorted(entry["id"] for entry in written if entry["op"] == "put") == [
        "engineering/deploys.md",
        "engineering/incident-2026-03.html",
        "faq.txt",
        "handbook/holidays.md",
        "handbook/welcome.md",
    ]
    assert written[-1]["op"] == "close" and written[0]["tags"] == ["a", "b"]
    assert not (tmp_path / ".ccf" / "index.db").exists()

    again = ccf_run(
        site,
        "--connector",
        "hello",
        "--set",
        f"path={SAMPLE}",
        "--destination",
        "jsonl",
        "--destination-set",
        "folder=out",
        "--report-json",
        "-",
        cwd=tmp_path,
    )
    assert json.loads(again.stdout)["unchanged"] == 5


def test_settings_come_from_the_environment_and_a_file(site: Path, tmp_path: Path) -> None:
    (tmp_path / "dest.yaml").write_text("folder: from-file\ntags: [file]\n", encoding="utf-8")
    result = ccf_run(
        site,
        "--connector",
        "hello",
        "--set",
        f"path={SAMPLE}",
        "--destination",
        "jsonl",
        "--destination-config",
        "dest.yaml",
        cwd=tmp_path,
        env={"CCF_DESTINATION_JSONL_FOLDER": "from-env", "CCF_DESTINATION_JSONL_FOLDR": "typo"},
    )
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    assert lines(tmp_path / "from-env")[0]["tags"] == ["file"]
    assert not (tmp_path / "from-file").exists()
    assert "CCF_DESTINATION_JSONL_FOLDR is ignored" in result.stderr
    assert "did you mean CCF_DESTINATION_JSONL_FOLDER?" in result.stderr


def test_missing_setting_is_a_bad_configuration_naming_the_field(site: Path, tmp_path: Path) -> None:
    result = ccf_run(
        site, "--connector", "hello", "--set", f"path={SAMPLE}", "--destination", "jsonl", cwd=tmp_path
    )
    assert result.returncode == exit_codes.BAD_CONFIGURATION
    assert "invalid settings for destination 'jsonl':\nfolder: Field required" in result.stderr
    assert "Traceback" not in result.stderr


def test_misspelled_destination_gets_a_guess(site: Path, tmp_path: Path) -> None:
    result = ccf_run(
        site, "--connector", "hello", "--set", f"path={SAMPLE}", "--destination", "jsnol", cwd=tmp_path
    )
    assert result.returncode == exit_codes.BAD_CONFIGURATION
    assert "did you mean 'jsonl'?" in result.stderr
