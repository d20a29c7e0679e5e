"""Engine throughput and peak memory, seed-style connector into a no-op destination.

For N in (10,000, 100,000) it writes N small text files, then runs a
``QBusinessCustomConnectorInterface`` subclass over them twice, each run in a fresh process with
SQLite state: a first run (everything is new) and an unchanged second run. This is repeated three
times; each case prints one JSON line with the median documents/s through the engine (and every
sample), the destination calls and the highest peak RSS of the process.

Usage: python bench/engine.py [N ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import SeedFolder, measured, write_files

from ccf_core.state.sqlite import SqliteStateStore
from ccf_core.testing import AcceptingDestination
from ccf_core.validation import qbusiness_limits

SIZES = (10_000, 100_000)
REPEATS = 3


def run_case(folder: Path, state_path: Path, count: int, label: str) -> dict[str, object]:
    destination = AcceptingDestination()
    # Start-up (botocore's model, read once per process) is timed apart from the documents:
    # with PYTHONDONTWRITEBYTECODE set it alone can take longer than 10,000 documents.
    started = time.perf_counter()
    qbusiness_limits()
    startup = time.perf_counter() - started
    connector = SeedFolder(destination=destination, state=SqliteStateStore(state_path))
    connector.folder, connector.count = folder, count
    report, result = measured(connector.sync, label, count)
    return {
        **result,
        "scanned": report.scanned,
        "destination_calls": destination.calls,
        "startup_seconds": round(startup, 3),
    }


def _run_subprocess(folder: Path, state_path: Path, count: int, label: str) -> dict[str, object]:
    # Flush the files just written first: their writeback would otherwise stall the state store's
    # checkpoints in the middle of the measurement.
    os.sync()
    output = subprocess.run(
        [sys.executable, __file__, "--case", str(folder), str(state_path), str(count), label],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(output)
    return result


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--case":
        folder, state_path, count, label = Path(argv[1]), Path(argv[2]), int(argv[3]), argv[4]
        print(json.dumps(run_case(folder, state_path, count, label)), flush=True)
        return
    sizes = [int(arg) for arg in argv] or list(SIZES)
    with tempfile.TemporaryDirectory(prefix="ccf-bench-") as tmp:
        for count in sizes:
            folder = Path(tmp) / f"files-{count}"
            write_files(folder, count)
            samples: dict[str, list[dict[str, object]]] = {"first_run": [], "unchanged_second_run": []}
            for attempt in range(REPEATS):
                state_path = Path(tmp) / f"state-{count}-{attempt}.db"
                for label, runs in samples.items():
                    runs.append(_run_subprocess(folder, state_path, count, label))
            for runs in samples.values():
                # The median of a few fresh processes: one busy moment on a shared machine moves it less.
                runs.sort(key=lambda run: float(str(run["documents_per_second"])))
                median = dict(runs[len(runs) // 2])
                median["samples_documents_per_second"] = [run["documents_per_second"] for run in runs]
                median["peak_rss_mb"] = max(float(str(run["peak_rss_mb"])) for run in runs)
                print(json.dumps(median), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
