"""Jobs that really run: ``ccf backend serve`` (a subprocess) runs ``ccf-run`` with the hello plugin.

The server is the real command with its SQLite data folder; the client is the generated boto3
client and the ``ccf`` CLI. A second plugin (``slowpoke``, a folder on the server's PYTHONPATH that
importlib sees as an installed distribution) makes runs long enough to be stopped, or stuck so
that only SIGKILL ends them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ccf_runner.ccf_cli import main as ccf_main
from tests.backend.conftest import CONTAINER, ROOT
from tests.backend.serve_process import Server, client_for, plugin_site, start_server
from tests.processes import wait_for

pytestmark = pytest.mark.slow

SAMPLE_DOCS = ROOT / "examples" / "hello-connector" / "sample-docs"
SLOWPOKE = """
    import time

    from pydantic import BaseModel, ConfigDict

    from ccf_core import Connector, Document, DocumentMetadata, hookimpl


    class SlowConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        count: int = 1000
        pause: float = 0.05


    class Slowpoke(Connector):
        name = "slowpoke"
        Config = SlowConfig

        def documents(self, context):
            for number in range(self.config.count):
                if context.cancelled:
                    return
                time.sleep(self.config.pause)
                yield Document(
                    id=f"slow-{number:05d}", content=f"slow {number}", metadata=DocumentMetadata(title="s")
                )


    @hookimpl
    def ccf_register_connectors(registry):
        registry.register(Slowpoke)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plugin_site(tmp_path_factory.mktemp("plugins"), "slowpoke", SLOWPOKE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve") / "data", site=site)
    yield running
    running.stop()
    assert "Traceback" not in running.stderr.read_text()


@pytest.fixture(scope="module")
def api(server: Server) -> Any:
    return client_for(server.url)


def create_connector(
    api: Any, connector_type: str, configuration: dict[str, Any] | None = None, **fields: Any
) -> str:
    """Create a connector of ``connector_type`` through ``api``; its id. ``fields`` override the request's."""
    request: dict[str, Any] = {
        "name": f"local-{connector_type}",
        "connector_type": connector_type,
        "container_properties": dict(CONTAINER),
        **fields,
    }
    if configuration is not None:
        request["configuration"] = configuration
    return str(api.create_custom_connector(**request)["connector"]["connector_id"])


@pytest.fixture
def make(api: Any) -> Callable[..., str]:
    return functools.partial(create_connector, api)


def job_of(api: Any, connector_id: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = api.get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]
    return job


def ended(api: Any, connector_id: str, job_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (job := job_of(api, connector_id, job_id))["status"] in ("SUCCEEDED", "FAILED", "STOPPED") and job
        )
    )


def run_started(server: Server, connector_id: str, job_id: str) -> None:
    """Wait until ccf-run has started its run (its signal handlers are in place)."""
    log = server.data / "jobs" / connector_id / f"{job_id}.log"
    wait_for(lambda: log.exists() and "started (full sync)" in log.read_text(encoding="utf-8"))


def cli(*args: str) -> Any:
    return CliRunner().invoke(ccf_main, list(args), catch_exceptions=False)


def test_a_job_runs_the_hello_plugin_and_reports_documents_metrics_and_logs(
    server: Server, api: Any, make: Callable[..., str], tmp_path: Path
) -> None:
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    connector_id = make("hello", {"path": str(docs)})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]

    job = ended(api, connector_id, job_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["metrics"]["added"] == 5
    assert job["metrics"]["scanned"] == 5
    assert api.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"
    listed = cli("documents", "list", "--connector", connector_id, "--endpoint-url", server.url, "--json")
    assert sorted(doc["document_id"] for doc in json.loads(listed.output)) == [
        "engineering/deploys.md",
        "engineering/incident-2026-03.html",
        "faq.txt",
        "handbook/holidays.md",
        "handbook/welcome.md",
    ]

    shown = cli("jobs", "get", "--connector", connector_id, job_id, "--endpoint-url", server.url, "--json")
    log_file = Path(json.loads(shown.output)["log_file"])
    assert log_file == (server.data / "jobs" / connector_id / f"{job_id}.log").resolve()
    logs = cli("jobs", "logs", "--connector-id", connector_id, "--job", job_id, "--endpoint-url", server.url)
    assert logs.exit_code == 0
    assert "hello (full sync to local): succeeded" in logs.output
    assert logs.output == log_file.read_text(encoding="utf-8")

    # No Q Business ids in the connector: the job wrote the local index in its working folder.
    index = server.data / "jobs" / connector_id / ".ccf" / "index.db"
    found = cli("search", "deploy", "--index", str(index), "--json")
    assert "engineering/deploys.md" in found.output


def test_logs_follow_prints_until_the_job_ends(server: Server, api: Any, make: Callable[..., str]) -> None:
    connector_id = make("slowpoke", {"count": 20, "pause": 0.05})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    follow = cli(
        "jobs",
        "logs",
        "--connector-id",
        connector_id,
        "--job",
        job_id,
        "--follow",
        "--endpoint-url",
        server.url,
    )
    assert follow.exit_code == 0
    assert "slowpoke (full sync to local): succeeded" in follow.output
    assert job_of(api, connector_id, job_id)["status"] == "SUCCEEDED"


def test_a_stopped_job_ends_stopped_and_frees_its_connector(
    server: Server, api: Any, make: Callable[..., str]
) -> None:
    connector_id = make("slowpoke", {"count": 100000, "pause": 0.02})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    run_started(server, connector_id, job_id)
    api.stop_custom_connector_job(connector_id=connector_id, job_id=job_id)
    assert ended(api, connector_id, job_id)["status"] == "STOPPED"
    log = (server.data / "jobs" / connector_id / f"{job_id}.log").read_text(encoding="utf-8")
    assert "stopped" in log  # ccf-run stopped cleanly on SIGTERM and said so
    assert api.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace_period(
    server: Server, api: Any, make: Callable[..., str]
) -> None:
    connector_id = make("slowpoke", {"count": 5, "pause": 600})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    run_started(server, connector_id, job_id)
    api.stop_custom_connector_job(connector_id=connector_id, job_id=job_id)
    assert ended(api, connector_id, job_id)["status"] == "STOPPED"
    assert "did not stop within 1s: SIGKILL" in server.stderr.read_text()


def test_a_connector_type_that_is_not_installed_fails_saying_so(api: Any, make: Callable[..., str]) -> None:
    connector_id = make("nowhere")
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    job = ended(api, connector_id, job_id)
    assert job["status"] == "FAILED"
    assert "connector type 'nowhere' is not installed" in job["failure_reason"]
    assert api.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"


def test_secret_references_fail_the_job_instead_of_being_resolved(api: Any, make: Callable[..., str]) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"
    connector_id = make("hello", {"path": "."}, secret_references={"HELLO_TOKEN": arn})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    job = ended(api, connector_id, job_id)
    assert job["status"] == "FAILED"
    assert "does not resolve secret references (HELLO_TOKEN)" in job["failure_reason"]


def test_a_failing_run_fails_the_job_with_the_exit_code_and_its_last_line(
    api: Any, make: Callable[..., str], tmp_path: Path
) -> None:
    connector_id = make("hello", {"path": str(tmp_path / "missing")})
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    job = ended(api, connector_id, job_id)
    assert job["status"] == "FAILED"
    assert "ccf-run ended with exit code 1" in job["failure_reason"]
    assert "missing" in job["failure_reason"]


def test_a_restarted_server_keeps_its_data_and_fails_the_jobs_it_lost(tmp_path: Path, site: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, site=site)
    try:
        api = client_for(first.url)
        connector_id = create_connector(api, "slowpoke", {"count": 5, "pause": 600}, name="survivor")
        api.batch_put_custom_connector_documents(
            connector_id=connector_id, documents=[{"document_id": "kept", "checksum": "a" * 64}]
        )
        api.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data='{"cursor": 7}')
        job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
        wait_for(lambda: job_of(api, connector_id, job_id)["status"] == "RUNNING")
    finally:
        first.stop(signal.SIGKILL)  # the server dies; its job's process is left behind
    with sqlite3.connect(data / "backend.db") as db:
        item = json.loads(db.execute("SELECT item FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0])
    orphan = int(item["batch_job_id"].split(":")[1])
    assert _alive(orphan)

    second = start_server(data, site=site)
    try:
        api = client_for(second.url)
        job = job_of(api, connector_id, job_id)
        assert job["status"] == "FAILED"
        assert "was lost" in job["failure_reason"]
        connector = api.get_custom_connector(connector_id=connector_id)["connector"]
        assert connector["status"] == "AVAILABLE"
        documents = api.list_custom_connector_documents(connector_id=connector_id)["documents"]
        assert [doc["document_id"] for doc in documents] == ["kept"]
        checkpoint = api.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
        assert checkpoint["checkpoint_data"] == '{"cursor": 7}'
        assert wait_for(lambda: not _alive(orphan))
    finally:
        second.stop()


def test_a_server_stopped_with_sigterm_closes_its_running_jobs(tmp_path: Path, site: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, site=site)
    api = client_for(first.url)
    connector_id = create_connector(api, "slowpoke", {"count": 5, "pause": 600}, name="interrupted")
    job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    run_started(first, connector_id, job_id)
    first.stop(signal.SIGTERM)
    assert first.process.returncode == 0
    assert "Traceback" not in first.stderr.read_text()
    with sqlite3.connect(data / "backend.db") as db:
        item = json.loads(db.execute("SELECT item FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0])
    assert item["status"] == "FAILED"
    assert item["failure_reason"] == "ccf backend serve was stopped while the job ran"
    assert not _alive(int(item["batch_job_id"].split(":")[1]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a dead parent may linger as a zombie until init reaps it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_with_a_token_the_job_and_the_cli_send_it(tmp_path: Path, site: Path) -> None:
    token = "laptop-token-5f1e2d"
    server = start_server(tmp_path / "data", "--token", token, site=site)
    try:
        from ccf_core.api.client import add_bearer_token

        api = add_bearer_token(client_for(server.url), token)
        docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
        connector_id = create_connector(api, "hello", {"path": str(docs)}, name="tokened")
        job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
        job = ended(api, connector_id, job_id)
        assert job["status"] == "SUCCEEDED", job  # ccf-run got CCF_API_TOKEN and sent it back
        assert job["metrics"]["added"] == 5
        args = ["jobs", "logs", "--connector-id", connector_id, "--job", job_id, "--endpoint-url", server.url]
        assert "succeeded" in cli(*args, "--token", token).output
        refused = CliRunner().invoke(ccf_main, args, env={"CCF_API_TOKEN": ""})
        assert refused.exit_code == 1
        # The log is read apart from the API calls: a refused token there is said as such.
        import click

        from ccf_runner.commands.jobs import local_log

        context = click.Context(click.Command("logs"), obj={"endpoint_url": server.url, "token": "wrong"})
        with context, pytest.raises(click.ClickException, match="refused the access token"):
            local_log(connector_id, job_id, 0)
        assert token not in (server.data / "jobs" / connector_id / f"{job_id}.log").read_text()
    finally:
        server.stop()


def test_the_executor_forgets_the_process_of_a_closed_job(tmp_path: Path) -> None:
    """An in-process server: the ended job's process and log handle are not kept for its life."""
    from ccf_backend.local_server import LocalBackend

    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    with LocalBackend(data_dir=tmp_path / "data", jobs="local") as backend:
        api = client_for(backend.endpoint_url)
        connector_id = create_connector(api, "hello", {"path": str(docs)}, name="forgotten")
        job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
        assert ended(api, connector_id, job_id)["status"] == "SUCCEEDED"
        executor = backend.executor
        assert executor is not None
        wait_for(lambda: not executor._processes, "the closed job's process to be forgotten")


def test_a_started_job_whose_connector_was_deleted_ends_failed_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One step of the executor, in process: the job is closed saying why, and the jobs are listed once."""
    from ccf_backend.local_executor import LocalExecutor
    from ccf_backend.local_server import LocalBackend
    from ccf_backend.storage import jobs as jobs_dao

    with LocalBackend(data_dir=tmp_path / "data", jobs="none") as backend:
        api = client_for(backend.endpoint_url)
        connector_id = create_connector(api, "hello", {"path": str(tmp_path)}, name="deleted")
        job_id = api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
        # The API refuses to delete a connector in use: remove its record past it.
        with backend.storage._write() as db:
            db.execute("DELETE FROM connectors WHERE connector_id = ?", (connector_id,))
        listings = 0
        list_active_jobs = jobs_dao.list_active_jobs

        def counted() -> list[dict[str, Any]]:
            nonlocal listings
            listings += 1
            return list_active_jobs()

        monkeypatch.setattr(jobs_dao, "list_active_jobs", counted)
        executor = LocalExecutor(tmp_path / "data")
        executor.endpoint_url = backend.endpoint_url

        executor.step()

        job = jobs_dao.get_job(connector_id, job_id)
        assert job["status"] == "FAILED"
        assert job["failure_reason"] == f"connector {connector_id} was deleted before the job could start"
        assert executor._processes == {}
        assert listings == 1


def test_a_job_whose_dispatch_fails_does_not_hold_up_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One step, in process: the first job's dispatch raises; the step still closes the second."""
    from ccf_backend import executors
    from ccf_backend.local_executor import LocalExecutor
    from ccf_backend.local_server import LocalBackend
    from ccf_backend.storage import jobs as jobs_dao

    with LocalBackend(data_dir=tmp_path / "data", jobs="none") as backend:
        api = client_for(backend.endpoint_url)
        jobs = {}
        for name in ("troubled", "deleted"):
            connector_id = create_connector(api, "hello", {"path": str(tmp_path)}, name=name)
            jobs[name] = (
                connector_id,
                api.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"],
            )
        with backend.storage._write() as db:
            db.execute("DELETE FROM connectors WHERE connector_id = ?", (jobs["deleted"][0],))
        dispatch_job = executors.dispatch_job

        def troubled(executor: Any, job: dict[str, Any], **kwargs: Any) -> Any:
            if job["job_id"] == jobs["troubled"][1]:
                raise PermissionError("signal refused")
            return dispatch_job(executor, job, **kwargs)

        monkeypatch.setattr(executors, "dispatch_job", troubled)
        executor = LocalExecutor(tmp_path / "data")
        executor.endpoint_url = backend.endpoint_url

        executor.step()

        assert jobs_dao.get_job(*jobs["deleted"])["status"] == "FAILED"
        assert jobs_dao.get_job(*jobs["troubled"])["status"] == "STARTED"  # tried again next step
