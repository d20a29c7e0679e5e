"""Other processes in the tests: the console scripts to start, and waiting for what they (or threads) do.

A wait polls and fails when what it waits for never comes. The bound is generous: a test that
reaches it is hung. It is never a timing assertion.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: How long a wait lasts before the test is called hung.
WAIT_SECONDS = 120


def console_script(name: str = "ccf-run") -> str:
    """The path of this environment's console script ``name``: beside the interpreter, else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"the {name} console script is not installed (pip install -e .)"
    return found


def run_script(
    *arguments: str, env: Mapping[str, str], cwd: Path, name: str = "ccf-run"
) -> subprocess.CompletedProcess[str]:
    """Run the console script ``name`` with ``arguments`` to its end; its exit code and output (text).

    A run that takes longer than :data:`WAIT_SECONDS` is hung: ``subprocess.TimeoutExpired``.
    """
    return subprocess.run(
        [console_script(name), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


def wait_for(
    condition: Callable[[], Any],
    what: str = "a condition",
    *,
    seconds: float = WAIT_SECONDS,
    interval: float = 0.05,
) -> Any:
    """Poll ``condition()`` every ``interval`` seconds until it is truthy; its value.

    ``condition`` may raise to end the wait early (a process it waits on ended).

    Raises:
        AssertionError: naming ``what``, when ``seconds`` passed first.
    """
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)


def wait_for_file(path: Path, process: subprocess.Popen[Any], output: Callable[[], str]) -> None:
    """Wait until ``process`` creates ``path``; fail with its ``output()`` if it ends first.

    A process still running when the wait gives up is killed, so the test does not leave it behind.
    """

    def created() -> bool:
        if path.exists():
            return True
        if process.poll() is not None:
            raise AssertionError(
                f"the process ended (exit code {process.returncode}) before it created {path}: {output()}"
            )
        return False

    try:
        wait_for(created, f"{path} to be created", interval=0.02)
    except AssertionError as err:
        if process.poll() is None:
            process.kill()
            process.wait()
            raise AssertionError(f"{err}; the process was killed; its output: {output()}") from None
        raise
