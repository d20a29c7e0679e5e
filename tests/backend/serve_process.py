"""``ccf backend serve`` as a real subprocess, for the tests and for the benchmarks in ``bench/``.

The benchmarks import it with the repository's root on ``sys.path`` (they run as
``python bench/<name>.py``), so it imports nothing at module level beyond the standard library and
the suite's own helpers.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.dummy_aws import dummy_session
from tests.processes import WAIT_SECONDS

ROOT = Path(__file__).resolve().parents[2]
#: The framework's variables a server never takes from the environment it is started from.
_NOT_INHERITED = ("CCF_ENDPOINT_URL", "CCF_API_TOKEN", "CCF_LOAD_PLUGINS", "CCF_DISABLE_PLUGINS")


@dataclass
class Server:
    """A running ``ccf backend serve`` subprocess, its data folder and its stderr file (if kept)."""

    process: subprocess.Popen[str]
    url: str
    data: Path
    stderr: Path | None

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` and wait for the server to exit (killed if it does not in time)."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signum)
                self.process.wait(timeout=WAIT_SECONDS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def plugin_site(root: Path, module: str, source: str) -> Path:
    """A folder importlib sees as an installed distribution ``module`` with a ``ccf`` entry point."""
    site = root / f"site-{module}"
    dist_info = site / f"{module}-0.1.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[ccf]\n{module} = {module}\n")
    return site


def start_server(
    data: Path,
    *options: str,
    site: Path | None = None,
    environment: Mapping[str, str] | None = None,
    keep_stderr: bool = True,
) -> Server:
    """Start ``ccf backend serve --port 0 --data DATA OPTIONS``; wait for the URL it prints first.

    A stopped job gets one second between SIGTERM and SIGKILL (``--stop-grace-seconds 1``) unless
    ``options`` say otherwise. The server inherits this process's environment without the
    framework's own variables (:data:`_NOT_INHERITED`), with ``site`` (plugins, see
    :func:`plugin_site`) and the repository on ``PYTHONPATH``, then ``environment``. Its stderr goes
    to a file next to ``data`` (or nowhere without ``keep_stderr``: a benchmark's access log).
    """
    env = {name: value for name, value in os.environ.items() if name not in _NOT_INHERITED}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site) if site else None, str(ROOT), env.get("PYTHONPATH")])
    )
    env.update(environment or {})
    stderr = data.parent / f"{data.name}-server-{time.monotonic_ns()}.log" if keep_stderr else None
    code = "from ccf_runner.ccf_cli import main; main()"
    command = [sys.executable, "-c", code, "backend", "serve", "--port", "0", "--data", str(data)]
    with contextlib.ExitStack() as stack:
        errors = stack.enter_context(stderr.open("w")) if stderr else subprocess.DEVNULL
        process = subprocess.Popen(
            [*command, "--stop-grace-seconds", "1", *options],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:  # a server that hangs before its URL must not hang us
        selector.register(process.stdout, selectors.EVENT_READ)
        url = process.stdout.readline().strip() if selector.select(WAIT_SECONDS) else ""
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        process.wait(timeout=WAIT_SECONDS)
        said = stderr.read_text() if stderr else "(stderr not kept)"
        raise AssertionError(f"ccf backend serve did not print its URL: {said}")
    return Server(process, url, data, stderr)


def client_for(url: str) -> Any:
    """The boto3 ``ccf`` client for ``url`` (dummy credentials)."""
    from ccf_core.api import create_client

    return create_client(url, session=dummy_session())
