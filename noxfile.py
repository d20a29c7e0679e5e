"""Everything a contributor runs: `nox -l` lists the sessions."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
# A machine without the interpreter must fail, not skip every session and look green.
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
RUFF = "ruff==0.17.6"
MYPY = ["mypy==2.4.1", "types-PyYAML", "pytest"]
EXAMPLES = ["examples/hello-connector"]


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
    """Check style and common mistakes with ruff (lint and format)."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check ccf_core (strict) and ccf_runner with mypy."""
    _install_project(session)
    session.install(*MYPY)
    session.run("mypy")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Sync the example folder into a local index with the hello connector, then search it."""
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


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure the engine, the Q Business destination against the fake, and `ccf backend serve`.

    Each benchmark prints one JSON line per case.
    """
    _install_project(session)
    session.run("python", "bench/engine.py", *session.posargs)
    session.run("python", "bench/qbusiness.py")
    session.run("python", "bench/backend_server.py")
