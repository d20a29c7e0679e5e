"""``ccf-run`` against the fake Q Business service, as a user runs it: ids from the environment.

The real console script runs in a subprocess with a connector plugin found through its entry point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from ccf_core.state.sqlite import SqliteStateStore
from ccf_core.uploader import GROUP_MAX_BATCHES
from ccf_runner import exit_codes
from tests.conftest import MakePluginDir
from tests.dummy_aws import DUMMY_ENVIRONMENT
from tests.fakes.qbusiness_server import FakeQBusiness
from tests.processes import console_script, run_script, wait_for_file
from tests.qbusiness.conftest import APPLICATION_ID, DATA_SOURCE_ID, INDEX_ID

#: ``paced`` yields ``count`` documents; after ``marker_after`` of them it writes ``marker`` and then
#: waits up to ``pause`` seconds for the run to be cancelled before going on.
PACED = """
    import time
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict

    from ccf_core import Connector, Document, DocumentMetadata, hookimpl


    class PacedConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        count: int = 40
        marker_after: int = -1
        marker: str = ""
        pause: float = 0.0


    class Paced(Connector):
        name = "paced"
        Config = PacedConfig

        def documents(self, context):
            for number in range(self.config.count):
                if number == self.config.marker_after:
                    Path(self.config.marker).write_text("ready")
                    deadline = time.monotonic() + self.config.pause
                    while time.monotonic() < deadline and not context.cancelled:
                        time.sleep(0.02)
                yield Document(
                    id=f"doc-{number:03d}",
                    content=f"text of document {number}",
                    metadata=DocumentMetadata(title=f"Document {number}", attributes={"number": number}),
                )


    @hookimpl
    def ccf_register_connectors(registry):
        registry.register(Paced)
"""


@pytest.fixture
def environment(make_plugin_dir: MakePluginDir, fake_qbusiness: FakeQBusiness) -> dict[str, str]:
    site = make_plugin_dir("pacedplug", PACED, {"paced": "pacedplug"})
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
            "Q_BUSINESS_APP_ID": APPLICATION_ID,
            "Q_BUSINESS_INDEX_ID": INDEX_ID,
            "Q_BUSINESS_DATA_SOURCE_ID": DATA_SOURCE_ID,
            "Q_BUSINESS_ENDPOINT_URL": fake_qbusiness.endpoint_url,
            **DUMMY_ENVIRONMENT,
            "CCF_LOAD_PLUGINS": "paced",
        }
    )
    return env


def test_ccf_run_with_qbusiness_ids_syncs_to_qbusiness(
    environment: dict[str, str], fake_qbusiness: FakeQBusiness, tmp_path: Path
) -> None:
    arguments = ["--connector", "paced", "--log-format", "text", "--report-json", "-"]
    result = run_script(*arguments, env=environment, cwd=tmp_path)
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    assert f"Amazon Q Business application {APPLICATION_ID}" in result.stderr.splitlines()[0]
    assert json.loads(result.stdout)["added"] == 40
    assert sorted(fake_qbusiness.documents) == [f"doc-{number:03d}" for number in range(40)]
    assert fake_qbusiness.documents["doc-007"].attributes["number"] == {"longValue": 7}
    assert fake_qbusiness.running_jobs == []


def test_sigterm_during_a_qbusiness_sync_stops_the_sync_job_and_keeps_what_was_accepted(
    environment: dict[str, str], fake_qbusiness: FakeQBusiness, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    args = [console_script(), "--connector", "paced", "--log-format", "json", "--max-in-flight", "1"]
    # Full batches are sent a group at a time: the first group of batches of ten is sent (when
    # the next document comes) and recorded, the next one is held when the connector pauses.
    group = GROUP_MAX_BATCHES * 10
    settings = ["--set", f"count={group + 40}", "--set", f"marker_after={group + 25}"]
    settings += ["--set", f"marker={marker}", "--set", "pause=60"]
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(args + settings, cwd=tmp_path, env=environment, stderr=stderr)
        wait_for_file(marker, process, (tmp_path / "stderr").read_text)
        assert fake_qbusiness.running_jobs, "the sync job should run while documents are uploaded"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == exit_codes.STOPPED

    assert fake_qbusiness.running_jobs == []
    assert len(fake_qbusiness.calls_of("StopDataSourceSyncJob")) == 1
    with SqliteStateStore(tmp_path / ".ccf" / "state.db") as state:
        scope = f"paced@qbusiness:{APPLICATION_ID}/{INDEX_ID}/{DATA_SOURCE_ID}"
        recorded = set(state.load_checksums(scope))
    # The first group at least; the next one too if a stalled machine let its 1 s wait run out.
    assert {f"doc-{number:03d}" for number in range(group)} <= recorded <= set(fake_qbusiness.documents)


def test_after_kill_9_the_next_run_stops_the_orphaned_sync_job_and_goes_on(
    environment: dict[str, str], fake_qbusiness: FakeQBusiness, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    args = ["--connector", "paced", "--log-format", "text", "--max-in-flight", "1"]
    settings = ["--set", "marker_after=25", "--set", f"marker={marker}", "--set", "pause=60"]
    process = subprocess.Popen(
        [console_script(), *args, *settings], cwd=tmp_path, env=environment, stderr=subprocess.DEVNULL
    )
    wait_for_file(marker, process, lambda: "(stderr not kept)")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    (orphan,) = fake_qbusiness.running_jobs

    rerun = run_script(*args, "--conflict-wait", "2", env=environment, cwd=tmp_path)

    assert rerun.returncode == exit_codes.SUCCESS, rerun.stderr
    assert f"stopped sync job {orphan.execution_id}" in rerun.stderr
    assert sorted(fake_qbusiness.documents) == [f"doc-{number:03d}" for number in range(40)]
    assert fake_qbusiness.running_jobs == []


def test_conflict_wait_bounds_the_wait_for_someone_elses_job(
    environment: dict[str, str], fake_qbusiness: FakeQBusiness, tmp_path: Path, qbusiness_client
) -> None:
    ids = {"applicationId": APPLICATION_ID, "indexId": INDEX_ID, "dataSourceId": DATA_SOURCE_ID}
    qbusiness_client.start_data_source_sync_job(**ids)

    arguments = ["--connector", "paced", "--log-format", "text", "--conflict-wait", "0.2"]
    result = run_script(*arguments, env=environment, cwd=tmp_path)

    assert result.returncode == exit_codes.FAILED
    assert "conflict_wait_seconds=0.2s" in result.stdout
