#!/usr/bin/env python3
"""Assemble the Lambda code of template.yaml: ccf_backend, ccf_core and their dependencies.

Usage (from the repository root)::

    python infrastructure/build_lambda.py          # writes infrastructure/.build/lambda
    sam deploy --template-file infrastructure/template.yaml --guided

The backend imports ccf_core's wire models (never ccf_runner or a plugin), so the package holds
both, plus pydantic, pluggy and orjson built for the functions' runtime (Python 3.12 on arm64);
boto3 comes with the Lambda runtime.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "infrastructure" / ".build" / "lambda"
REQUIREMENTS = ["pydantic>=2.11", "pluggy>=1.5", "orjson>=3.10"]
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "data")


def build(out: Path, platform: str, python_version: str) -> None:
    """Write the package to ``out`` (replacing what was there)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(ROOT / "infrastructure" / "ccf_backend", out / "ccf_backend", ignore=_IGNORE)
    shutil.copytree(ROOT / "ccf_core", out / "ccf_core", ignore=_IGNORE)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out),
        "--platform", platform, "--python-version", python_version, "--only-binary=:all:", *REQUIREMENTS,
    ]  # fmt: skip
    subprocess.run(command, check=True)  # noqa: S603 - a fixed pip command


def main() -> int:
    """Parse the options and build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--platform", default="manylinux2014_aarch64")
    parser.add_argument("--python-version", default="3.12")
    args = parser.parse_args()
    build(args.out, args.platform, args.python_version)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
