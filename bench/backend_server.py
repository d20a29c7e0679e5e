"""Latency, throughput and memory of ``ccf backend serve`` under list calls.

Starts the real server (a subprocess, SQLite in a temporary folder, no job executor, logs
discarded), creates 20 connectors, then:

- ``sequential``: 200 ListCustomConnectors calls one after the other on one keep-alive
  connection (what Nagle's algorithm used to hold ~40 ms each);
- ``concurrent``: N list calls (10,000 by default) from 50 clients at once, each on its own
  keep-alive connection, with the server's resident memory (RSS) before and after.

Each case prints one JSON line: p50 and p95 latency in ms, requests/s, errors, and for the
concurrent case the server's CPU time per request and its RSS in MiB before and after. Goal
(issue 8): p50 under 20 ms and at least 300 requests/s with 50 clients, and an RSS that stays
flat. With 50 clients that each send their next call as soon as the last one is answered, p50 is
about 50 / (requests/s): the server's CPU per request is what bounds it.

Usage: python bench/backend_server.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 50
PATH = "/api/v1/custom-connectors?max_results=20"
ROLE = "arn:aws:iam::123456789012:role/ccf-job"
CONTAINER = {
    "execution_role_arn": ROLE,
    "job_role_arn": ROLE,
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:latest",
}


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB (Linux /proc, else ``ps``)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    output = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=True)
    return int(output.stdout.strip()) / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (Linux /proc; 0.0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def request(connection: HTTPConnection, method: str, path: str, body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    response = connection.getresponse()
    response.read()
    return response.status


def measure(host: str, calls: int, clients: int) -> tuple[list[float], int, float]:
    """``(latencies in seconds, errors, wall seconds)`` of ``calls`` list calls over ``clients`` threads."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = [calls // clients + (1 if n < calls % clients else 0) for n in range(clients)]
    start_line = threading.Barrier(clients + 1)

    def client(count: int) -> None:
        nonlocal errors
        connection = HTTPConnection(host, timeout=60)
        mine: list[float] = []
        failed = 0
        start_line.wait()
        for _ in range(count):
            began = time.perf_counter()
            try:
                if request(connection, "GET", PATH) != 200:
                    failed += 1
            except OSError:
                failed += 1
                connection.close()
                connection = HTTPConnection(host, timeout=60)
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client, args=(count,)) for count in per_client]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - began


def summary(case: str, latencies: list[float], errors: int, seconds: float) -> dict[str, object]:
    return {
        "case": case,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "requests_per_second": round(len(latencies) / seconds, 1),
    }


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        env.pop("CCF_API_TOKEN", None)
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ccf_runner.ccf_cli import main; main()",
                *("backend", "serve", "--port", "0", "--no-jobs", "--data", str(Path(folder) / "data")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            host = server.stdout.readline().strip().removeprefix("http://")
            setup = HTTPConnection(host, timeout=60)
            for number in range(20):
                body = {"name": f"bench-{number:02d}", "container_properties": CONTAINER}
                assert request(setup, "POST", "/api/v1/custom-connectors", body) == 201
            sequential = []
            for _ in range(200):
                began = time.perf_counter()
                assert request(setup, "GET", PATH) == 200
                sequential.append(time.perf_counter() - began)
            setup.close()
            print(json.dumps(summary("sequential", sequential, 0, sum(sequential))), flush=True)

            measure(host, 500, CLIENTS)  # warm up: threads, caches, the allocator's arenas
            before, cpu_before = rss_mib(server.pid), cpu_seconds(server.pid)
            latencies, errors, seconds = measure(host, calls, CLIENTS)
            after, cpu_after = rss_mib(server.pid), cpu_seconds(server.pid)
            result = summary(f"concurrent-{CLIENTS}-clients", latencies, errors, seconds)
            result.update(
                server_cpu_ms_per_request=round((cpu_after - cpu_before) / calls * 1000, 3),
                rss_before_mib=round(before, 1),
                rss_after_mib=round(after, 1),
            )
            print(json.dumps(result), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
