"""Fixtures: a fake GitLab on 127.0.0.1 holding a small company, and a harness pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_gitlab import (
    DEVELOPER,
    GUEST,
    OWNER,
    REPORTER,
    TOKEN,
    FakeGitLab,
    FakeGitLabState,
    Item,
    stamp,
)

from ccf_core.plugins import reset_plugin_manager
from ccf_core.testing import ConnectorHarness
from ccf_gitlab import GitLabConnector

#: A PNG header: binary content with an extension outside the default list.
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"


def build_world() -> FakeGitLabState:
    """acme (alice owns it) with a public handbook, a private project and an internal one.

    - ``acme/handbook`` (public): README, docs, code, a binary image; two issues (one confidential),
      a merge request, a wiki page and a release.
    - ``acme/platform/secret`` (private): bob is a Reporter, dave a Developer without a visible email,
      carol only a Guest; alice inherits Owner from ``acme``.
    - ``acme/platform/tools`` (internal).
    - ``acme/attic`` (archived).
    """
    state = FakeGitLabState()
    alice = state.add_user("alice", "alice@example.com")
    bob = state.add_user("bob", "bob@example.com")
    carol = state.add_user("carol", "carol@example.com")
    dave = state.add_user("dave")
    state.add_user("eve", "eve@example.com")
    state.add_group("acme", {alice.id: OWNER})
    state.add_group("acme/platform")

    handbook = state.add_project("acme", "handbook", visibility="public", description="How we work.")
    handbook.commit(
        {
            "README.md": b"# Handbook\n\nWelcome to the acme handbook.\n",
            "docs/onboarding.md": b"# Onboarding\n\nAsk for a laptop on day one.\n",
            "src/deploy.py": b"def deploy():\n    return 'canary rollout'\n",
            "assets/logo.png": PNG,
            "node_modules/lib/index.js": b"vendored();\n",
        }
    )
    handbook.issues[1] = Item(
        1,
        "Deploy runbook is outdated",
        "The rollback section is wrong.",
        labels=["docs", "ops"],
        author="alice",
        milestone="Q3",
        created=10,
        updated=20,
        notes=[
            {
                "id": 1,
                "body": "I will fix the rollback steps.",
                "author": {"username": "bob"},
                "created_at": stamp(15),
                "system": False,
            },
            {
                "id": 2,
                "body": "added label ~docs",
                "author": {"username": "alice"},
                "created_at": stamp(16),
                "system": True,
            },
        ],
    )
    handbook.issues[2] = Item(
        2, "Leaked credentials incident", "Rotate the keys.", confidential=True, created=11, updated=21
    )
    handbook.merge_requests[1] = Item(
        1,
        "Rewrite rollback section",
        "Fixes #1",
        state="merged",
        created=12,
        updated=22,
        notes=[
            {
                "id": 3,
                "body": "Looks good to me.",
                "author": {"username": "alice"},
                "created_at": stamp(23),
                "system": False,
            }
        ],
    )
    handbook.wikis["home"] = ("Home", "The wiki home page about holidays.")
    handbook.releases.append(
        {
            "tag_name": "v1.0",
            "name": "First edition",
            "description": "Initial handbook release.",
            "created_at": stamp(30),
            "released_at": stamp(30),
            "author": {"username": "alice"},
        }
    )

    secret = state.add_project(
        "acme/platform",
        "secret",
        visibility="private",
        members={bob.id: REPORTER, carol.id: GUEST, dave.id: DEVELOPER},
    )
    secret.commit(
        {"README.md": b"# Secret\n\nThe quantum roadmap.\n", "notes.md": b"Quantum budget notes.\n"}
    )
    secret.issues[1] = Item(1, "Quantum launch date", "Keep it quiet.", created=40, updated=41)

    tools = state.add_project("acme/platform", "tools", visibility="internal")
    tools.commit({"README.md": b"# Tools\n\nInternal tooling catalogue.\n"})

    attic = state.add_project("acme", "attic", visibility="public", archived=True)
    attic.commit({"README.md": b"# Attic\n\nOld things.\n"})
    return state


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No plugin selection or token from the shell leaks into a test."""
    for name in ("CCF_LOAD_PLUGINS", "CCF_DISABLE_PLUGINS", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def world() -> FakeGitLabState:
    return build_world()


@pytest.fixture
def fake(world: FakeGitLabState) -> Iterator[FakeGitLab]:
    with FakeGitLab(world) as server:
        yield server


@pytest.fixture
def config(fake: FakeGitLab) -> dict[str, Any]:
    return {"url": fake.url, "token": TOKEN, "groups": ["acme"], "max_retries": 3}


@pytest.fixture
def harness(config: dict[str, Any], tmp_path: Path) -> Iterator[ConnectorHarness]:
    with ConnectorHarness(GitLabConnector, config, directory=tmp_path / "run") as harness:
        yield harness
