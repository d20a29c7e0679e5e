"""``ccf-run --state api`` inside a backend job: checksums and metrics go to the CCF API."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ccf_backend.local_server import LocalBackend
from tests.conftest import MakePluginDir
from tests.dummy_aws import DUMMY_ENVIRONMENT
from tests.processes import run_script

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")

NOTES = """
    from pydantic import BaseModel, ConfigDict

    from ccf_core import Connector, Document, DocumentMetadata, hookimpl


    class NotesConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        count: int = 30


    class Notes(Connector):
        name = "apinotes"
        Config = NotesConfig

        def documents(self, context):
            for number in range(self.config.count):
                metadata = DocumentMetadata(title=f"n{number}")
                yield Document(id=f"note-{number:03d}", content=f"note {number}", metadata=metadata)


    @hookimpl
    def ccf_register_connectors(registry):
        registry.register(Notes)
"""


@pytest.fixture
def job_environment(
    make_plugin_dir: MakePluginDir, backend: LocalBackend, ccf: Any, connector_id: str
) -> dict[str, str]:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    site = make_plugin_dir("apinotes", NOTES, {"apinotes": "apinotes"})
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
            "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT": backend.endpoint_url,
            "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID": connector_id,
            "CUSTOM_CONNECTOR_JOB_ID": job["job_id"],
            **DUMMY_ENVIRONMENT,
            "CCF_LOAD_PLUGINS": "apinotes",
        }
    )
    return env


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    arguments = ["--connector", "apinotes", "--state", "api", "--report-json", "-", "--log-format", "text"]
    return run_script(*arguments, env=env, cwd=cwd)


def test_second_run_with_api_state_uploads_nothing(
    job_environment: dict[str, str], ccf: Any, connector_id: str, tmp_path: Path
) -> None:
    first = _run(job_environment, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "CCF API state of connector" in first.stderr.splitlines()[0]
    assert json.loads(first.stdout)["added"] == 30

    second = _run(job_environment, tmp_path)
    report = json.loads(second.stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 0, 30)

    documents = ccf.list_custom_connector_documents(connector_id=connector_id, max_results=100)["documents"]
    ids = [document["document_id"] for document in documents]
    # Beside the 30 records, the run's note of the local index it wrote (its generation).
    assert sorted(ids) == sorted([*(f"note-{n:03d}" for n in range(30)), "meta:destination.generation"])


def test_run_reports_its_metrics_on_the_job(
    job_environment: dict[str, str], ccf: Any, connector_id: str, tmp_path: Path
) -> None:
    assert _run(job_environment, tmp_path).returncode == 0
    job_id = job_environment["CUSTOM_CONNECTOR_JOB_ID"]
    job = ccf.get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]
    assert job["metrics"]["scanned"] == 30
    assert job["metrics"]["added"] == 30
