"""``ccf-run --connector gitlab`` as a person and as a backend job runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fake_gitlab import TOKEN, FakeGitLab
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _environment(fake: FakeGitLab, **extra: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR"}
    env = {name: value for name, value in os.environ.items() if name in keep}
    env.update(
        CCF_LOAD_PLUGINS="gitlab",
        CCF_GITLAB_URL=fake.url,
        CCF_GITLAB_GROUPS="[acme]",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    env.update(extra)
    return env


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_a_wrong_token_ends_the_run_with_one_authentication_line(fake: FakeGitLab, tmp_path: Path) -> None:
    env = _environment(fake, CCF_GITLAB_TOKEN="glpat-not-the-right-one")
    result = _run(
        ["ccf-run", "--connector", "gitlab", "--log-format", "text", "--index", "i.db", "--state", "s.db"],
        env,
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if "authentication failed" in line]
    assert len(lines) == 1, result.stderr
    assert "refused the token" in lines[0]
    assert "glpat-not-the-right-one" not in output


def test_a_backend_job_takes_env_settings_and_a_secrets_manager_token(
    fake: FakeGitLab, moto_server: str, tmp_path: Path
) -> None:
    """Settings from CCF_GITLAB_<FIELD>, the token from a Secrets Manager ARN; found by a member only."""
    secrets = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = secrets.create_secret(Name="gitlab-token", SecretString=json.dumps({"token": TOKEN}))["ARN"]
    env = _environment(fake, CCF_GITLAB_TOKEN=arn, AWS_ENDPOINT_URL=moto_server)
    result = _run(
        [
            "ccf-run",
            "--connector",
            "gitlab",
            "--log-format",
            "json",
            "--log-level",
            "DEBUG",
            "--index",
            "i.db",
            "--state",
            "s.db",
            "--report-json",
            "report.json",
        ],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["added"] == 15
    member = _run(
        ["ccf", "search", "quantum", "--index", "i.db", "--as-user", "bob@example.com"], env, tmp_path
    )
    stranger = _run(
        ["ccf", "search", "quantum", "--index", "i.db", "--as-user", "eve@example.com"], env, tmp_path
    )
    assert "p1001/file/notes.md" in member.stdout, member.stdout + member.stderr
    assert "p1001" not in stranger.stdout
    everything = result.stdout + result.stderr + (tmp_path / "report.json").read_text()
    everything += member.stdout + member.stderr + stranger.stdout + stranger.stderr
    assert TOKEN not in everything


def test_show_config_lists_every_field_with_its_variable_and_hides_the_token(
    fake: FakeGitLab, tmp_path: Path
) -> None:
    env = _environment(fake, CCF_GITLAB_TOKEN=TOKEN)
    result = _run(["ccf-run", "--show-config", "gitlab"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    for field in (
        "url",
        "token",
        "groups",
        "projects",
        "exclude_projects",
        "include_archived",
        "max_projects",
        "include",
        "file_extensions",
        "exclude_paths",
        "max_file_bytes",
        "identity",
        "internal_group",
        "full_sync_every",
    ):
        assert f"CCF_GITLAB_{field.upper()}" in result.stdout, field
    assert TOKEN not in result.stdout + result.stderr
