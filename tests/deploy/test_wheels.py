"""The wheels the runner image installs, built and installed here exactly as its Dockerfile does.

The build stage of infrastructure/runner/Dockerfile copies the build context (what
Dockerfile.dockerignore lets through) and runs build_wheels.py; the runtime stage installs the
result with ``pip install --no-index``. These tests do the same steps without Docker: copy the
context, build with dependencies (the only step that may use the network), install offline into a
fresh virtualenv that sees nothing of this one, then run the image's entrypoint and commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.dockerfile import ROOT, context_files, exec_form, parse

pytestmark = pytest.mark.slow

#: Stands in for a connector plugin whatever plugins/ holds: the example, copied in as plugins/hello.
EXAMPLE = ROOT / "examples" / "hello-connector"
BUILD_SCRIPT = Path("infrastructure") / "runner" / "build_wheels.py"
RUNTIME = parse().stages[-1]
ENTRYPOINT = exec_form(RUNTIME.last("ENTRYPOINT") or "")


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, **kwargs)


def _connector_names(project: Path) -> list[str]:
    declared = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return list(declared["project"]["entry-points"]["ccf"])


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Docker build context, with the example connector as one more plugin."""
    root = tmp_path_factory.mktemp("context")
    for relative in context_files():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, root / relative)
    if not (root / "plugins" / "hello").exists():
        shutil.copytree(EXAMPLE, root / "plugins" / "hello", ignore=shutil.ignore_patterns("tests", "*.pyc"))
    return root


@pytest.fixture(scope="module")
def wheels(context: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage: every plugin of the context, with dependencies, as wheels."""
    out = tmp_path_factory.mktemp("wheels")
    result = _run(
        [
            sys.executable,
            str(context / BUILD_SCRIPT),
            "--out",
            str(out),
            "--with-dependencies",
            "--all-plugins",
        ]
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def installed(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The runtime stage: a fresh virtualenv (no system site-packages) filled offline from the wheels."""
    env_dir = tmp_path_factory.mktemp("image-venv")
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    result = _run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
         "--find-links", str(wheels), "-r", str(wheels / "requirements.txt")],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    yield env_dir / "bin"


def _image_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """What the container's process sees: its own PATH first, no variables of this test process."""
    return {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(bin_dir.parent), **extra}


def test_requirements_pin_the_framework_and_every_plugin(context: Path, wheels: Path) -> None:
    pins = (wheels / "requirements.txt").read_text(encoding="utf-8").split()
    names = [pin.split("==")[0] for pin in pins]
    plugins = sorted(path.parent for path in (context / "plugins").glob("*/pyproject.toml"))
    expected = [
        tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
        for project in plugins
    ]
    assert names == ["ccf-framework", *expected]


def test_the_default_command_lists_every_built_connector(context: Path, installed: Path) -> None:
    argv = [*ENTRYPOINT, *exec_form(RUNTIME.last("CMD") or "")]
    result = _run(argv, env=_image_env(installed), cwd=installed.parent)
    assert result.returncode == 0, result.stderr
    for project in sorted(path.parent for path in (context / "plugins").glob("*/pyproject.toml")):
        for name in _connector_names(project):
            assert f"\n{name} " in result.stdout, f"{name} missing from:\n{result.stdout}"
    assert "failed to load" not in result.stdout, result.stdout


def test_the_submitted_command_syncs_through_the_api(installed: Path, ccf: Any, backend: Any) -> None:
    """The orchestrator's command and environment, run by the installed entrypoint, reach the API."""
    connector = ccf.create_custom_connector(
        name="image-test",
        container_properties={
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:test",
            "job_role_arn": "arn:aws:iam::123456789012:role/ccf-job",
            "execution_role_arn": "arn:aws:iam::123456789012:role/ccf-execution",
        },
    )["connector"]
    command = ["--connector", "hello", "--state", "api"]
    env = _image_env(
        installed,
        CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT=backend.endpoint_url,
        CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID=connector["connector_id"],
        CCF_LOAD_PLUGINS="hello",
        CCF_HELLO_PATH=str(EXAMPLE / "sample-docs"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
    )
    result = _run([*ENTRYPOINT, *command], env=env, cwd=installed.parent)
    assert result.returncode == 0, result.stderr
    listed = ccf.list_custom_connector_documents(connector_id=connector["connector_id"])["documents"]
    # Besides the documents, the state keeps the run's notes (meta:...), e.g. the index generation.
    synced = [item for item in listed if not item["document_id"].startswith("meta:")]
    sample = [path for path in (EXAMPLE / "sample-docs").rglob("*") if path.is_file()]
    assert len(synced) == len(sample)


def test_the_context_holds_everything_the_framework_wheel_is_made_of(
    context: Path, wheels: Path, tmp_path: Path
) -> None:
    """A file missing from Dockerfile.dockerignore's allow-list would be missing from the image."""
    result = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ]
    )
    assert result.returncode == 0, result.stderr
    (from_tree,) = tmp_path.glob("ccf_framework-*.whl")
    (from_context,) = wheels.glob("ccf_framework-*.whl")
    with zipfile.ZipFile(from_tree) as tree, zipfile.ZipFile(from_context) as image:
        assert sorted(image.namelist()) == sorted(tree.namelist())


def test_an_unknown_plugin_name_fails_naming_it(context: Path, tmp_path: Path) -> None:
    result = _run([sys.executable, str(context / BUILD_SCRIPT), "--out", str(tmp_path), "no-such-plugin"])
    assert result.returncode == 2
    assert "no-such-plugin" in result.stderr
    assert "hello" in result.stderr, "the message lists the plugins there are"
