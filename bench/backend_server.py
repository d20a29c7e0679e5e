"""Latency, throughput and memory of ``ccf backend serve`` under list calls.

Starts the real server (a subprocess, SQLite in a temporary folder, an access token, no job
executor, its JSON access log on and written to /dev/null), creates 20 connectors, then sends
ListCustomConnectors calls (20 connectors a page, the bearer token on each) from a lean load
generator: one thread in this process driving raw keep-alive sockets with ``selectors``, so
that the client costs a small fraction of the server's CPU (``http.client`` in 50 threads, what
this bench used before, cost about as much as the server). Cases:

- ``sequential``: 200 calls one after the other on one connection;
- ``closed-loop-50``: N calls (10,000 by default) over 50 connections, each sending its next
  call as soon as the last is answered: the server's maximum throughput. p50 is then about
  50 / (requests/s), so it measures throughput more than latency. The server's RSS is taken
  before and after (it should stay flat);
- ``open-loop-50``: calls offered at a fixed rate (``--rate``, 300/s by default) for
  ``--seconds`` over 50 connections, whatever the answers: the latency a client sees at that
  load. A call's latency counts from when it was due, so a call delayed behind a slow one is
  counted as late (no coordinated omission).

Each case prints one JSON line: p50 and p95 latency in ms, requests/s, errors, the server's CPU
time per request, and the load generator's own CPU per request. Goal (issue 8): p50 under 20 ms
and at least 300 requests/s with 50 clients, and an RSS that stays flat.

Usage: python bench/backend_server.py [N] [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# First, whatever else is on the path: an editable plugin install puts its own `tests` package there.
sys.path.insert(0, str(ROOT))

from tests.backend.serve_process import start_server  # noqa: E402

CLIENTS = 50
PATH = "/api/v1/custom-connectors?max_results=20"
ROLE = "arn:aws:iam::123456789012:role/ccf-job"
CONTAINER = {
    "execution_role_arn": ROLE,
    "job_role_arn": ROLE,
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:latest",
}
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)


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


class _Connection:
    """One keep-alive connection that sends a fixed request and reads whole responses."""

    def __init__(self, address: tuple[str, int], request: bytes) -> None:
        self.address = address
        self.request = request
        self.buffer = bytearray()
        self.due: deque[float] = deque()  # when each waiting call was due (open loop)
        self.started = 0.0  # when the call in flight was due or sent; 0.0: idle
        self.socket = self._open()

    def _open(self) -> socket.socket:
        connection = socket.create_connection(self.address, timeout=60)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.setblocking(False)
        return connection

    def reopen(self) -> None:
        self.socket.close()
        self.buffer.clear()
        self.socket = self._open()

    def send(self, started: float) -> None:
        self.started = started
        self.socket.sendall(self.request)

    def receive(self) -> int | None:
        """Read what arrived; the status of a complete response, -1 if the server closed, else None."""
        data = self.socket.recv(65536)
        if not data:
            return -1
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        length = _CONTENT_LENGTH.search(self.buffer, 0, end)
        size = end + 4 + (int(length.group(1)) if length else 0)
        if len(self.buffer) < size:
            return None
        status = int(self.buffer[9:12])
        del self.buffer[:size]
        return status


def load(
    address: tuple[str, int], request: bytes, calls: int, clients: int, rate: float | None = None
) -> tuple[list[float], int, float, float]:
    """``(latencies in s, errors, wall s, client CPU s)`` of ``calls`` calls over ``clients`` connections.

    Closed loop without ``rate`` (each connection sends again when answered); open loop with it
    (call ``i`` is due at ``i / rate`` s on connection ``i % clients``).
    """
    connections = [_Connection(address, request) for _ in range(clients)]
    selector = selectors.DefaultSelector()
    for connection in connections:
        selector.register(connection.socket, selectors.EVENT_READ, connection)
    latencies: list[float] = []
    errors = 0
    scheduled = 0  # calls handed to a connection so far
    cpu_began = time.process_time()
    began = time.perf_counter()

    def schedule(now: float) -> None:
        nonlocal scheduled
        while scheduled < calls and (rate is None or began + scheduled / rate <= now):
            due = now if rate is None else began + scheduled / rate
            connections[scheduled % clients].due.append(due)
            scheduled += 1
            if rate is None and scheduled >= clients:
                return

    schedule(began)
    for connection in connections:
        if connection.due:
            connection.send(connection.due.popleft())
    while len(latencies) < calls:
        now = time.perf_counter()
        timeout = None if rate is None or scheduled >= calls else max(0.0, began + scheduled / rate - now)
        for key, _ in selector.select(timeout):
            connection = key.data
            status = connection.receive()
            if status is None:
                continue
            now = time.perf_counter()
            latencies.append(now - connection.started)
            connection.started = 0.0
            if status != 200:
                errors += 1
            if status == -1:
                selector.unregister(connection.socket)
                connection.reopen()
                selector.register(connection.socket, selectors.EVENT_READ, connection)
            if rate is None and scheduled < calls:
                connection.due.append(now)
                scheduled += 1
        now = time.perf_counter()
        if rate is not None:
            schedule(now)
        for connection in connections:
            if not connection.started and connection.due:
                connection.send(connection.due.popleft())
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    for connection in connections:
        selector.unregister(connection.socket)
        connection.socket.close()
    selector.close()
    return latencies, errors, seconds, cpu


def setup_request(connection: HTTPConnection, token: str, body: dict[str, object]) -> int:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    connection.request("POST", "/api/v1/custom-connectors", body=json.dumps(body).encode(), headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def summary(
    case: str, latencies: list[float], errors: int, seconds: float, client_cpu: float, server_cpu: float
) -> dict[str, object]:
    return {
        "case": case,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "server_cpu_ms_per_request": round(server_cpu / len(latencies) * 1000, 3),
        "client_cpu_ms_per_request": round(client_cpu / len(latencies) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("calls", nargs="?", type=int, default=10_000, help="closed-loop calls")
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop calls per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    options = parser.parse_args()
    token = secrets.token_urlsafe(24)
    with (
        tempfile.TemporaryDirectory() as folder,
        start_server(
            Path(folder) / "data", "--no-jobs", environment={"CCF_API_TOKEN": token}, keep_stderr=False
        ) as server,
    ):
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        address = (host, int(port))
        setup = HTTPConnection(*address, timeout=60)
        for number in range(20):
            body = {"name": f"bench-{number:02d}", "container_properties": CONTAINER}
            assert setup_request(setup, token, body) == 201
        setup.close()
        request = (
            f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()

        def case(name: str, calls: int, clients: int, rate: float | None = None) -> dict[str, object]:
            cpu_before = cpu_seconds(server.process.pid)
            latencies, errors, seconds, client_cpu = load(address, request, calls, clients, rate)
            result = summary(
                name, latencies, errors, seconds, client_cpu, cpu_seconds(server.process.pid) - cpu_before
            )
            if rate is not None:
                result["offered_per_second"] = rate
            return result

        print(json.dumps(case("sequential", 200, 1)), flush=True)
        load(address, request, 500, CLIENTS)  # warm up: threads, caches, the allocator's arenas
        before = rss_mib(server.process.pid)
        result = case(f"closed-loop-{CLIENTS}", options.calls, CLIENTS)
        result.update(rss_before_mib=round(before, 1), rss_after_mib=round(rss_mib(server.process.pid), 1))
        print(json.dumps(result), flush=True)
        offered = max(1, int(options.rate * options.seconds))
        print(json.dumps(case(f"open-loop-{CLIENTS}", offered, CLIENTS, options.rate)), flush=True)


if __name__ == "__main__":
    main()
