"""Building and installing a plugin package from source, the way its author would, for the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def pip_install(source: Path, target: Path) -> None:
    """``pip install`` the package at ``source`` into the folder ``target`` (put it on PYTHONPATH to use it).

    The build uses this environment's build backend (``--no-build-isolation``: no download) and
    skips dependencies (``--no-deps``): ccf-framework is the one installed here, and it is not on
    the package index yet. A failed build fails the test with pip's own words.
    """
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*command, "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"pip install {source} failed:\n{result.stdout}\n{result.stderr}")
