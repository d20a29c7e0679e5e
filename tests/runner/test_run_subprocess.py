"""The real ``ccf-run`` console script in a subprocess: first line, JSON logs, SIGTERM handling.

The connector comes from a plugin found through its entry point (a dist-info folder on PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccf_core.engine import split_scope
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner import exit_codes
from tests.processes import console_script, wait_for, wait_for_file

pytestmark = pytest.mark.slow

#: ``slow`` yields ``count`` documents quickly, writes ``marker``, then waits ``pause`` seconds
#: (watching the cancellation flag unless ``ignore_cancel``) before its last document.
FAKEPLUG = """
    import time
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict

    from ccf_core import Connector, Document, DocumentMetadata, hookimpl


    class SlowConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        count: int = 501
        pause: float = 0.0
        marker: str = ""
        ignore_cancel: bool = False


    def _doc(doc_id):
        return Document(id=doc_id, content=f"text of {doc_id}", metadata=DocumentMetadata(title=doc_id))


    class Slow(Connector):
        name = "slow"
        Config = SlowConfig

        def documents(self, context):
            for number in range(self.config.count):
                yield _doc(f"doc-{number:04d}")
            if self.config.marker:
                Path(self.config.marker).write_text("ready")
            deadline = time.monotonic() + self.config.pause
            while time.monotonic() < deadline and (self.config.ignore_cancel or not context.cancelled):
                time.sleep(0.02)
            yield _doc("last")


    @hookimpl
    def ccf_register_connectors(registry):
        registry.register(Slow)
"""

#: The local index takes batches of 500: a run of 501 documents has recorded 500 at the marker.
BATCH = 500


@dataclass
class Proc:
    """A running ``ccf-run`` with its stdout and stderr going to files."""

    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout=timeout)

    def err_lines(self) -> list[str]:
        return self.stderr.read_text().splitlines()


@pytest.fixture
def ccf_run(make_plugin_dir: Callable[..., Path], tmp_path: Path) -> Callable[..., Proc]:
    """Start the real console script in ``tmp_path`` with the ``slow`` plugin installed."""
    site = make_plugin_dir("fakeplug", FAKEPLUG, {"slow": "fakeplug"})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }
    script = console_script()
    runs = 0

    def start(*args: str) -> Proc:
        nonlocal runs
        runs += 1
        out, err = tmp_path / f"stdout-{runs}.txt", tmp_path / f"stderr-{runs}.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [script, "--connector", "slow", *args], cwd=tmp_path, env=env, stdout=stdout, stderr=stderr
            )
        return Proc(popen, out, err)

    return start


def _stopped_run(ccf_run: Callable[..., Proc], tmp_path: Path) -> Proc:
    """A run stopped by SIGTERM while the connector waits after its first batch was accepted."""
    marker = tmp_path / "marker"
    proc = ccf_run("--log-format", "text", "--set", "pause=60", "--set", f"marker={marker}")
    wait_for_file(marker, proc.popen, proc.stderr.read_text)
    proc.popen.send_signal(signal.SIGTERM)
    proc.wait()
    return proc


def test_first_line_of_the_console_script_names_destination_and_state(ccf_run: Callable[..., Proc]) -> None:
    proc = ccf_run("--log-format", "text", "--set", "count=2")
    assert proc.wait() == exit_codes.SUCCESS
    assert (
        proc.err_lines()[0]
        == "ccf-run: connector slow -> local index .ccf/index.db, sqlite state .ccf/state.db"
    )


def test_logs_are_json_lines_when_stderr_is_not_a_terminal(ccf_run: Callable[..., Proc]) -> None:
    proc = ccf_run("--set", "count=2")
    assert proc.wait() == exit_codes.SUCCESS
    records = [json.loads(line) for line in proc.err_lines()]
    assert records[0]["logger"] == "ccf-run"
    assert records[0]["message"].startswith("connector slow -> local index")
    assert "slow (full sync to local): succeeded" in proc.stdout.read_text()


def test_sigterm_stops_the_run_with_exit_130_keeping_accepted_documents(
    ccf_run: Callable[..., Proc], tmp_path: Path
) -> None:
    proc = _stopped_run(ccf_run, tmp_path)
    assert proc.popen.returncode == exit_codes.STOPPED
    assert "slow (full sync to local): stopped" in proc.stdout.read_text()
    assert any("SIGTERM received" in line for line in proc.err_lines())
    with SqliteStateStore(tmp_path / ".ccf" / "state.db") as state:
        (scope,) = [scope for scope in state.connectors() if split_scope(scope)[0] == "slow"]
        assert len(state.load_checksums(scope)) == BATCH
        assert state.get_checkpoint(scope) is None


def test_rerun_after_a_stopped_run_does_not_add_accepted_documents_again(
    ccf_run: Callable[..., Proc], tmp_path: Path
) -> None:
    _stopped_run(ccf_run, tmp_path)
    rerun = ccf_run("--report-json", "report.json")
    assert rerun.wait() == exit_codes.SUCCESS
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["unchanged"], report["added"]) == (BATCH, 2)


def _stopped_twice(ccf_run: Callable[..., Proc], tmp_path: Path, *args: str) -> Proc:
    """A run sent SIGTERM twice while its connector waits, ignoring the cancellation flag."""
    marker = tmp_path / "marker"
    proc = ccf_run(
        "--log-format",
        "text",
        "--set",
        "pause=60",
        "--set",
        "ignore_cancel=true",
        "--set",
        f"marker={marker}",
        *args,
    )
    wait_for_file(marker, proc.popen, proc.stderr.read_text)
    proc.popen.send_signal(signal.SIGTERM)
    wait_for(
        lambda: any("SIGTERM received" in line for line in proc.err_lines()), "the first SIGTERM's log line"
    )
    proc.popen.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return proc


def test_second_sigterm_stops_at_once_even_if_the_connector_ignores_cancellation(
    ccf_run: Callable[..., Proc], tmp_path: Path
) -> None:
    proc = _stopped_twice(ccf_run, tmp_path)
    assert proc.popen.returncode == exit_codes.STOPPED
    assert any("stopped at once by a second signal" in line for line in proc.err_lines())


def test_second_sigterm_still_prints_a_report_and_writes_the_json_report(
    ccf_run: Callable[..., Proc], tmp_path: Path
) -> None:
    """Automation reading --report-json always finds one, even when the engine's report was lost."""
    proc = _stopped_twice(ccf_run, tmp_path, "--report-json", "report.json")
    assert proc.popen.returncode == exit_codes.STOPPED
    assert "slow (sync to local): stopped" in proc.stdout.read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["connector"], report["status"]) == ("slow", "stopped")
    assert report["error"] == "stopped at once by a second signal"


def test_a_second_ccf_run_on_the_same_state_refuses_at_once(
    ccf_run: Callable[..., Proc], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    first = ccf_run("--log-format", "text", "--set", "pause=60", "--set", f"marker={marker}")
    wait_for_file(marker, first.popen, first.stderr.read_text)

    second = ccf_run("--log-format", "text", "--set", "count=3")
    code = second.wait()
    first.popen.send_signal(signal.SIGTERM)
    first.wait()

    assert code == exit_codes.LOCKED
    output = second.stdout.read_text()
    assert f"process {first.popen.pid}" in output
    assert "another run of slow@" in output
    assert "Traceback" not in second.stderr.read_text()
