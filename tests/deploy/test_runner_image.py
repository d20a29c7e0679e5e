"""The runner image's Dockerfile: what it runs, as whom, from what; no Docker daemon needed.

The image itself cannot be built here (no Docker daemon in the test environment): these tests read
the Dockerfile, and ``test_wheels.py`` installs the very wheels its build stage makes into a fresh
virtualenv and runs them as the image would.
"""

from __future__ import annotations

import re
import tomllib

import click
import pytest

from ccf_backend.batch_executor import job_definition
from ccf_backend.launch import build_launch
from ccf_runner.run_cli import main as ccf_run
from tests.deploy.dockerfile import DOCKERFILE, ROOT, exec_form, parse

DOCKER = parse()
RUNTIME = DOCKER.stages[-1]
CONNECTOR = {
    "connector_id": "cc-0123456789ab",
    "connector_type": "webcrawler",
    "container_properties": {
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:1",
        "job_role_arn": "arn:aws:iam::123456789012:role/ccf-job",
        "execution_role_arn": "arn:aws:iam::123456789012:role/ccf-execution",
    },
}
LAUNCH = build_launch(CONNECTOR, {"job_id": "ccj-0123456789ab"}, "https://api.example.com/prod")
#: What AWS Batch gets as the container's command. Batch's ``command`` replaces the image's CMD
#: and never its ENTRYPOINT (a Batch job definition has no entry point), so the container runs
#: ENTRYPOINT + this list.
SUBMITTED_COMMAND = job_definition(LAUNCH, "ccf", "DISABLED")["containerProperties"]["command"]


def test_the_image_is_built_in_two_stages_from_a_pinned_slim_python() -> None:
    assert [stage.name for stage in DOCKER.stages] == ["build", "runtime"]
    for stage in DOCKER.stages:
        image, _, tag = stage.base.partition(":")
        assert image == "python"
        assert re.fullmatch(r"3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", tag), stage.base


def test_the_entrypoint_is_the_ccf_run_console_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert exec_form(RUNTIME.last("ENTRYPOINT") or "") == ["ccf-run"]
    assert scripts["ccf-run"] == "ccf_runner.run_cli:main"


def test_the_default_command_lists_the_installed_connectors() -> None:
    """``docker run IMAGE`` shows what the image can run; it never starts a sync by itself."""
    argv = exec_form(RUNTIME.last("CMD") or "")
    context = ccf_run.make_context("ccf-run", list(argv))
    assert context.params["list_connectors"] is True
    assert context.params["connector_name"] is None


def test_the_submitted_command_is_ccf_run_arguments_after_the_entrypoint() -> None:
    """ENTRYPOINT + the command Batch gets is the job's ``ccf-run`` command line."""
    argv = [*exec_form(RUNTIME.last("ENTRYPOINT") or ""), *SUBMITTED_COMMAND]
    assert "ccf-run" not in SUBMITTED_COMMAND, "the command must not repeat the entrypoint"
    assert argv == ["ccf-run", "--connector", "webcrawler", "--state", "api"]
    context = ccf_run.make_context("ccf-run", argv[1:])
    assert context.params["connector_name"] == "webcrawler"
    assert context.params["state"] == "api"


def test_a_command_that_repeats_the_entrypoint_would_be_refused() -> None:
    """Why the orchestrator must not send "ccf-run" itself: the image would run ``ccf-run ccf-run ...``."""
    with pytest.raises(click.UsageError):
        ccf_run.make_context("ccf-run", ["ccf-run", "--connector", "webcrawler", "--state", "api"])


def test_the_image_runs_as_an_unprivileged_user() -> None:
    user = RUNTIME.last("USER")
    assert user is not None
    assert user.split(":")[0] not in {"0", "root"}


def test_the_runtime_stage_installs_offline_from_the_build_stage_and_copies_no_sources() -> None:
    keywords = [keyword for keyword, _ in RUNTIME.instructions]
    assert "COPY" not in keywords and "ADD" not in keywords
    (install,) = [arguments for keyword, arguments in RUNTIME.instructions if keyword == "RUN"]
    assert "--mount=type=bind,from=build,source=/wheels" in install, "wheels must not become a layer"
    assert "--no-index" in install
    for tool in ("gcc", "build-essential", "apt-get"):
        assert tool not in install


def test_plugins_are_a_build_argument_with_both_connectors_by_default() -> None:
    build = DOCKER.stages[0]
    assert build.last("ARG") == 'PLUGINS="webcrawler gitlab"'
    assert "${PLUGINS}" in (build.last("RUN") or "")


def test_no_secret_is_baked_into_an_argument_or_the_environment() -> None:
    secretive = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|ACCESS_KEY|CREDENTIAL)", re.IGNORECASE)
    for stage in DOCKER.stages:
        for keyword, arguments in stage.instructions:
            if keyword in {"ARG", "ENV"}:
                assert not secretive.search(arguments), f"{keyword} {arguments} in {DOCKERFILE.name}"
