"""The ``ccf`` groups for the API (connectors, jobs, documents --connector, checkpoint, backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from ccf_runner.commands.api import checkpoint, connectors, documents_remote
from ccf_runner.commands.jobs import jobs
from ccf_runner.commands.serve import backend
from tests.backend.serve_process import client_for, start_server
from tests.processes import wait_for

ROLE = "arn:aws:iam::123456789012:role/ccf-job"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:latest"


@pytest.fixture
def run(backend: Any) -> Any:
    runner = CliRunner()

    def invoke(group: click.Group, *args: str, input: str | None = None) -> click.testing.Result:
        result = runner.invoke(
            group, [*args, "--endpoint-url", backend.endpoint_url], input=input, catch_exceptions=False
        )
        return result

    return invoke


def _create_args(name: str) -> list[str]:
    """``ccf connectors create`` with ``name`` and the container's required settings."""
    return [
        "create",
        "--name",
        name,
        "--image-uri",
        IMAGE,
        "--execution-role-arn",
        ROLE,
        "--job-role-arn",
        ROLE,
    ]


def _create(run: Any, *extra: str) -> dict[str, Any]:
    result = run(connectors, *_create_args("cli-connector"), "--json", *extra)
    assert result.exit_code == 0, result.output
    connector: dict[str, Any] = json.loads(result.output)
    return connector


def test_connectors_create_get_update_list_delete(run: Any) -> None:
    connector = _create(
        run,
        "--connector-type",
        "gitlab",
        "--configuration",
        '{"url": "https://gitlab.example.com"}',
        "--secret",
        "token=arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf",
    )
    cid = connector["connector_id"]
    assert connector["configuration"] == {"url": "https://gitlab.example.com"}
    shown = run(connectors, "get", cid)
    assert f"connector_id: {cid}" in shown.output
    assert "status: AVAILABLE" in shown.output
    updated = run(connectors, "update", cid, "--memory", "4096", "--remove-secret", "token", "--json")
    data = json.loads(updated.output)
    assert data["container_properties"]["resource_requirements"]["memory"] == 4096
    assert "secret_references" not in data or data["secret_references"] == {}
    listed = run(connectors, "list")
    assert cid in listed.output and "CURRENT JOB" in listed.output
    assert run(connectors, "delete", cid, "--yes").output.strip() == f"deleted {cid}"
    missing = run(connectors, "get", cid)
    assert missing.exit_code == 1
    assert "ResourceNotFoundException" in missing.output


def test_jobs_start_list_get_stop(run: Any) -> None:
    cid = _create(run)["connector_id"]
    started = run(jobs, "start", "--connector", cid, "--env", "MODE=full", "--json")
    job = json.loads(started.output)
    assert job["status"] == "STARTED"
    again = run(jobs, "start", "--connector", cid)
    assert again.exit_code == 1 and "ConflictException" in again.output
    assert job["job_id"] in run(jobs, "list", "--connector", cid).output
    assert "status: STARTED" in run(jobs, "get", "--connector", cid, job["job_id"]).output
    stopped = run(jobs, "stop", "--connector", cid, job["job_id"], "--json")
    assert json.loads(stopped.output)["status"] == "STOPPING"


def test_documents_list_and_checkpoint(run: Any, ccf: Any) -> None:
    cid = _create(run)["connector_id"]
    ccf.batch_put_custom_connector_documents(
        connector_id=cid, documents=[{"document_id": f"doc-{n}", "checksum": "0" * 64} for n in range(3)]
    )
    listed = run(documents_remote, "list", "--connector", cid)
    assert "doc-2" in listed.output and "3 documents" in listed.output
    assert (
        len(
            json.loads(run(documents_remote, "list", "--connector", cid, "--json", "--max-items", "2").output)
        )
        == 2
    )
    assert run(checkpoint, "put", "--connector", cid, '{"cursor": 5}').exit_code == 0
    assert json.loads(run(checkpoint, "get", "--connector", cid).output.split("(saved")[0]) == {"cursor": 5}
    assert run(checkpoint, "put", "--connector", cid, "-", input='{"cursor": 6}').exit_code == 0
    assert json.loads(
        json.loads(run(checkpoint, "get", "--connector", cid, "--json").output)["checkpoint_data"]
    ) == {"cursor": 6}
    assert "deleted" in run(checkpoint, "delete", "--connector", cid).output
    assert "ResourceNotFoundException" in run(checkpoint, "get", "--connector", cid).output


def test_bad_input_is_a_message_not_a_traceback(run: Any) -> None:
    result = run(connectors, *_create_args("bad name"))
    assert result.exit_code == 1
    assert "BadRequestException: name:" in result.output


def test_an_unreachable_endpoint_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = CliRunner().invoke(connectors, ["list", "--endpoint-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the CCF API" in result.output


@pytest.mark.slow
def test_backend_serve_prints_its_url_first_and_runs_the_seed_lifecycle(tmp_path: Path) -> None:
    """The seed's "create connectors and jobs with fake resources to examine the lifecycle" (--fake-jobs)."""
    from ccf_core.api import CCFClient

    with start_server(tmp_path / "data", "--fake-jobs", "0.5") as server:
        assert server.url.startswith("http://127.0.0.1:")
        client = client_for(server.url)
        cid = client.create_custom_connector(
            name="lifecycle",
            container_properties={"execution_role_arn": ROLE, "image_uri": IMAGE, "job_role_arn": ROLE},
        )["connector"]["connector_id"]
        ccf = CCFClient(client, cid)
        job = ccf.start_job()
        wait_for(lambda: ccf.get_job(job.job_id).status.value == "SUCCEEDED", "the job to succeed")
        assert ccf.get_connector().status.value == "AVAILABLE"
        second = ccf.start_job()
        ccf.stop_job(second.job_id)
        wait_for(lambda: ccf.get_job(second.job_id).status.value == "STOPPED", "the job to stop")
        assert [j.status.value for j in ccf.list_jobs()] == ["STOPPED", "SUCCEEDED"]


def test_backend_group_has_serve() -> None:
    assert "serve" in backend.commands


def test_a_local_command_can_take_an_optional_connector(run: Any, ccf: Any, backend: Any) -> None:
    """How ``ccf documents list`` adds ``--connector``: optional API options plus the printer."""
    from ccf_runner.commands.api import make_client, optional_api_options, print_remote_documents

    @click.command()
    @click.option("--connector", "connector_id")
    @optional_api_options
    def listing(connector_id: str | None) -> None:
        if connector_id is None:
            click.echo("local index")
            return
        print_remote_documents(make_client(), connector_id, None, as_json=True)

    cid = _create(run)["connector_id"]
    ccf.batch_put_custom_connector_documents(
        connector_id=cid, documents=[{"document_id": "d", "checksum": "0" * 64}]
    )
    runner = CliRunner()
    assert runner.invoke(listing, []).output == "local index\n"
    remote = runner.invoke(listing, ["--connector", cid, "--endpoint-url", backend.endpoint_url])
    assert [doc["document_id"] for doc in json.loads(remote.output)] == ["d"]
    missing = runner.invoke(listing, ["--connector", cid], env={"CCF_ENDPOINT_URL": ""})
    assert missing.exit_code == 2 and "--endpoint-url" in missing.output
