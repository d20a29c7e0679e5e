"""``ccf backend serve`` as a real subprocess, for the tests of the local executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: A generous bound on waits (a test that hits it is hung; never a timing assertion).
WAIT_SECONDS = 120


@dataclass
class Server:
    """A running ``ccf backend serve`` subprocess, its data folder and its stderr file."""

    process: subprocess.Popen[str]
    url: str
    data: Path
    stderr: Path

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` and wait for the server to exit."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            self.process.wait(timeout=WAIT_SECONDS)


def plugin_site(root: Path, module: str, source: str) -> Path:
    """A folder importlib sees as an installed distribution ``module`` with a ``ccf`` entry point."""
    site = root / f"site-{module}"
    dist_info = site / f"{module}-0.1.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[ccf]\n{module} = {module}\n")
    return site


def start_server(data: Path, site: Path, *extra: str, environment: dict[str, str] | None = None) -> Server:
    """Start ``ccf backend serve --port 0 --data DATA`` (plugins of ``site`` installed); read its URL."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CCF_ENDPOINT_URL", "CCF_API_TOKEN", "CCF_LOAD_PLUGINS", "CCF_DISABLE_PLUGINS")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), str(ROOT), env.get("PYTHONPATH")]))
    env.update(environment or {})
    stderr = data.parent / f"{data.name}-server-{time.monotonic_ns()}.log"
    code = "from ccf_runner.ccf_cli import main; main()"
    command = [sys.executable, "-c", code, "backend", "serve", "--port", "0", "--data", str(data)]
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [*command, "--stop-grace-seconds", "1", *extra],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), stderr.read_text()
    return Server(process, url, data, stderr)


def client_for(url: str) -> Any:
    """The boto3 ``ccf`` client for ``url`` (dummy credentials)."""
    import boto3

    from ccf_core.api import create_client

    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    return create_client(url, session=session)


def wait_for(condition: Callable[[], Any], what: str = "a condition") -> Any:
    """Poll until ``condition()`` is truthy; its value."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")
