"""The GitLab connector against the fake GitLab with 20 ms per request: API calls, time, memory.

The fake (from ``plugins/gitlab/tests``) serves P projects (20 by default) of 200 repository files,
200 issues and 50 merge requests each (two comments per issue and merge request). Cases, each one
JSON line:

- ``first``: the first (full) sync: API requests, seconds, peak RSS of the syncing process;
  ``commits_calls`` is the part of the requests that read repository files' dates (one per file);
- ``incremental``: after 1% of the items changed (2 files, 2 issues and half a merge request per
  project), the next run: API requests and seconds, and their share of the first sync's requests;
- ``memory``: peak RSS of a first sync of 2 projects, beside the one of P projects.

Every sync runs in a child process (so its peak RSS is its own, not the fake's) against the fake
served by this process. Usage: python bench/gitlab_sync.py [PROJECTS] [LATENCY_SECONDS]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "gitlab" / "tests"))

from fake_gitlab import REPORTER, TOKEN, FakeGitLab, FakeGitLabState, Item, stamp  # noqa: E402

FILES, ISSUES, MERGE_REQUESTS = 200, 200, 50
#: The fake's name for the route of a path's commits (the files' dates).
COMMITS = "projects/*/repository/commits"


def build(projects: int) -> FakeGitLabState:
    """P private projects under ``bench``, with a few members each."""
    state = FakeGitLabState()
    users = [state.add_user(f"user{n}", f"user{n}@example.com") for n in range(5)]
    state.add_group("bench", {users[0].id: 50})
    for p in range(projects):
        project = state.add_project("bench", f"service-{p:02d}", members={users[1].id: REPORTER})
        project.commit(
            {
                f"src/module_{f // 20}/file_{f}.py": (f"# service {p} file {f}\n" + "x = 1\n" * 300).encode()
                for f in range(FILES)
            }
        )
        notes = [
            {"id": n, "body": f"comment {n} " * 20, "author": {"username": "user1"}, "created_at": stamp(n)}
            for n in range(2)
        ]
        for i in range(1, ISSUES + 1):
            project.issues[i] = Item(
                i,
                f"Issue {i} of {p}",
                "Steps to reproduce. " * 30,
                labels=["bug"],
                created=i,
                updated=i,
                notes=list(notes),
            )
        for i in range(1, MERGE_REQUESTS + 1):
            project.merge_requests[i] = Item(
                i, f"MR {i} of {p}", "Changes. " * 30, state="merged", created=i, updated=i, notes=list(notes)
            )
        project.wikis["home"] = ("Home", f"Wiki of service {p}.")
        project.releases.append(
            {
                "tag_name": "v1",
                "name": "v1",
                "description": "First.",
                "created_at": stamp(1),
                "released_at": stamp(1),
            }
        )
    return state


def change_one_percent(state: FakeGitLabState) -> int:
    """Change 1% of the items: 2 files, 2 issues and every other project's merge request."""
    changed = 0
    for n, project in enumerate(state.projects.values()):
        tree = project.head()[1]
        paths = sorted(tree)[:2]
        project.commit({path: tree[path] + b"# changed\n" for path in paths})
        for iid in (1, 2):
            project.issues[iid].title += " (edited)"
            project.issues[iid].updated = 10_000
        changed += 4
        if n % 2 == 0:
            project.merge_requests[1].title += " (edited)"
            project.merge_requests[1].updated = 10_000
            changed += 1
    return changed


def child(url: str, directory: str) -> None:
    """Run one sync (in a child process) and print its report and peak RSS as JSON."""
    from ccf_core.testing import ConnectorHarness
    from ccf_gitlab import GitLabConnector

    config = {"url": url, "token": TOKEN, "groups": ["bench"]}
    started = time.perf_counter()
    with ConnectorHarness(GitLabConnector, config, directory=directory) as harness:
        report = harness.run().report
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - started, 2),
                "status": report.status.value,
                "scanned": report.scanned,
                "uploaded": report.added + report.updated,
                "deleted": report.deleted,
                "failed": report.failed,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


def sync(fake: FakeGitLab, directory: str) -> dict[str, Any]:
    before = fake.state.total_calls
    commits_before = fake.state.calls[COMMITS]
    result = subprocess.run(
        [sys.executable, __file__, "--child", fake.url, directory], capture_output=True, text=True, check=True
    )
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["api_calls"] = fake.state.total_calls - before
    outcome["commits_calls"] = fake.state.calls[COMMITS] - commits_before
    return outcome


def main() -> None:
    projects = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
    with tempfile.TemporaryDirectory(prefix="ccf-bench-gitlab-") as folder:
        state = build(projects)
        state.latency = latency
        with FakeGitLab(state) as fake:
            first = sync(fake, f"{folder}/big")
            print(
                json.dumps({"case": "first", "projects": projects, "latency_ms": latency * 1000, **first}),
                flush=True,
            )
            changed = change_one_percent(state)
            second = sync(fake, f"{folder}/big")
            share = second["api_calls"] / first["api_calls"]
            print(
                json.dumps(
                    {
                        "case": "incremental",
                        "items_changed": changed,
                        **second,
                        "share_of_first_calls": round(share, 4),
                    }
                ),
                flush=True,
            )
        small = build(2)
        small.latency = latency
        with FakeGitLab(small) as fake:
            two = sync(fake, f"{folder}/small")
        print(
            json.dumps(
                {
                    "case": "memory",
                    f"peak_rss_mb_{projects}_projects": first["peak_rss_mb"],
                    "peak_rss_mb_2_projects": two["peak_rss_mb"],
                    "difference_mb": round(first["peak_rss_mb"] - two["peak_rss_mb"], 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main()
