"""Peak memory of runs that keep their state in the CCF API, against ``ccf backend serve``, to 1M documents.

Starts the real local backend (a subprocess, SQLite in a temporary folder, no job executor, logs
discarded), creates one connector per size through the API, then runs the engine with
:class:`~ccf_core.state.api.ApiStateStore` over the same in-memory text connector and accept-all
destination as ``bench/scale.py memory``: a first run and an unchanged rerun, each in a fresh
process. One JSON line per run: the run process's peak RSS, the server's RSS now and at its peak
(for information: the server is not the job), elapsed seconds, documents/s, the CPU seconds of the
run process and of the server (steadier than elapsed time on a busy machine), and the API calls
the run made by operation.

Goal (issue 9): a run's peak RSS at most 200 MB at 1,000,000 documents, first run and rerun; the
lines for 100k, 300k and 1M show the slope.

Usage: python bench/scale_api_state.py [--sizes N,N,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

# The children run with -P (bench/ not first on sys.path, so none of its scripts stands in for a
# module the plugins import); the sibling bench modules are found at the end of the path,
# the repository's root first (for tests.*, shared with the test suite).
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_server import CONTAINER, cpu_seconds, rss_mib
from scale import in_memory_document, measured

from ccf_core import SyncEngine
from ccf_core.api import CCFClient, create_client
from ccf_core.state.api import ApiStateStore
from ccf_core.testing import AcceptingDestination
from tests.backend.serve_process import start_server
from tests.support import NumberedDocuments

# boto3 signs every request; the local server checks no signature, any credentials do.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def peak_rss_of(pid: int) -> float:
    """The peak resident memory of process ``pid`` in MiB (Linux ``VmHWM``; 0.0 elsewhere)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def case_run(url: str, connector_id: str, count: int, label: str) -> dict[str, Any]:
    """One run of ``count`` in-memory documents with its state in the API (in this process)."""
    ccf = CCFClient.from_endpoint(url, connector_id)
    calls: Counter[str] = Counter()
    ccf.client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
    state = ApiStateStore(ccf)
    engine = SyncEngine(AcceptingDestination(), state)
    _, result = measured(
        lambda: engine.run(NumberedDocuments(count, in_memory_document)), f"api_state_{label}", count
    )
    state.close()
    return {**result, "connector": "in-memory documents (no files)", "api_calls": dict(sorted(calls.items()))}


def _in_child(server_pid: int, *args: str) -> dict[str, Any]:
    server_cpu = cpu_seconds(server_pid)
    output = subprocess.run(
        [sys.executable, "-P", __file__, "--case", *args],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, **CREDENTIALS),
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["server_cpu_seconds"] = round(cpu_seconds(server_pid) - server_cpu, 1)
    result["server_rss_mb"] = round(rss_mib(server_pid), 1)
    result["server_peak_rss_mb"] = peak_rss_of(server_pid)
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--case":
        url, connector_id, count, label = argv[1:5]
        print(json.dumps(case_run(url, connector_id, int(count), label)), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    options = parser.parse_args(argv)
    os.environ.update(CREDENTIALS)
    with (
        tempfile.TemporaryDirectory(prefix="ccf-scale-api-") as tmp,
        start_server(Path(tmp) / "data", "--no-jobs", keep_stderr=False) as server,
    ):
        api = create_client(server.url)
        for count in (int(size) for size in options.sizes.split(",")):
            body = {"name": f"scale-{count}", "container_properties": CONTAINER}
            connector_id = api.create_custom_connector(**body)["connector"]["connector_id"]
            for label in ("first_run", "unchanged_rerun"):
                _in_child(server.process.pid, server.url, connector_id, str(count), label)
            # The next size starts from an empty table, as its own connector would in AWS.
            api.delete_custom_connector(connector_id=connector_id)


if __name__ == "__main__":
    main(sys.argv[1:])
