"""Every code block of README.md and examples/hello-connector/README.md is run, or says why not.

How a block is treated depends on the HTML comment right before it (invisible on GitHub):

* ``<!-- not-run: REASON -->``: not run; the reason is required (e.g. ``needs AWS``). Keep these few.
* ``<!-- file: PATH -->``: the block is the file PATH of the package the README builds. The test
  writes those files to a temporary folder, pip-installs the package into a folder of its own
  and puts that on PYTHONPATH (it shadows the installed example of the same name).
* ``<!-- cwd: package -->``: a shell block run in that package's folder, with the package installed.
* no comment: a shell block (``bash``/``sh``) run with ``bash -e`` in a copy of the repository's
  examples; a block in any other language must carry one of the comments above.

In shell blocks, ``pip install`` is checked, not run: a stand-in ``pip`` verifies that each
folder it is given is a package (the test environment already has ccf and the example installed,
and the package above is installed by the test itself).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging import pip_install

ROOT = Path(__file__).resolve().parents[1]
READMES = [ROOT / "README.md", ROOT / "examples" / "hello-connector" / "README.md"]
SHELLS = {"bash", "sh", "shell", "console"}

_BLOCK = re.compile(
    r"(?:<!--\s*(?P<marker>[a-z-]+):\s*(?P<value>.*?)\s*-->[ \t]*\n)?"
    r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)

PIP_STAND_IN = """
import pathlib
import re
import sys

args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit(f"pip stand-in of tests/test_readme.py: only 'pip install' is expected, got {args}")
for arg in args[1:]:
    if arg.startswith("-"):
        continue
    folder = pathlib.Path(re.sub(r"\\[.*\\]$", "", arg))
    if not (folder / "pyproject.toml").is_file():
        sys.exit(f"pip stand-in: {arg} is not a package folder (no pyproject.toml)")
print("(pip install checked by the README test, not run)")
"""


@dataclass(frozen=True)
class Block:
    readme: Path
    line: int
    marker: str | None
    value: str
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.readme.relative_to(ROOT)}:{self.line} ({self.lang or 'no language'})"


def blocks(readme: Path) -> list[Block]:
    text = readme.read_text(encoding="utf-8")
    return [
        Block(
            readme,
            text.count("\n", 0, match.start("lang")) + 1,
            match["marker"],
            match["value"] or "",
            match["lang"],
            match["body"],
        )
        for match in _BLOCK.finditer(text)
    ]


def _ids(readme: Path) -> str:
    return str(readme.relative_to(ROOT))


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, str]:
    """The environment shell blocks run with: the pip stand-in first on PATH, then this Python's tools."""
    stand_in = tmp_path / "bin"
    stand_in.mkdir()
    for name in ("pip", "pip3"):
        script = stand_in / name
        script.write_text(f"#!{sys.executable}\n{PIP_STAND_IN}", encoding="utf-8")
        script.chmod(0o755)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(stand_in), str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    for variable in (
        "CCF_LOAD_PLUGINS",
        "CCF_DISABLE_PLUGINS",
        "Q_BUSINESS_APP_ID",
        "CCF_DESTINATION",
        "PYTHONPATH",
    ):
        env.pop(variable, None)
    return env


def run_shell(block: Block, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.body],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"the block at {block} failed (exit {result.returncode}):\n{block.body}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


@pytest.mark.parametrize("readme", READMES, ids=_ids)
def test_every_block_is_run_or_says_why_not(readme: Path) -> None:
    found = blocks(readme)
    assert found, f"no code blocks found in {readme}"
    for block in found:
        if block.marker == "not-run":
            assert block.value, f"{block}: <!-- not-run: REASON --> needs a reason"
        elif block.marker == "file":
            assert block.value and not block.value.startswith("/"), f"{block}: give a relative path"
        elif block.marker == "cwd":
            assert block.value == "package" and block.lang in SHELLS, (
                f"{block}: only shell blocks run in the package"
            )
        else:
            assert block.marker is None, f"{block}: unknown marker {block.marker!r}"
            assert block.lang in SHELLS, (
                f"{block}: a {block.lang or 'plain'} block is neither run nor a file; add "
                "<!-- file: PATH --> or <!-- not-run: REASON --> before it"
            )


@pytest.mark.slow
@pytest.mark.parametrize("readme", READMES, ids=_ids)
def test_shell_blocks_run(readme: Path, tmp_path: Path, tools: dict[str, str]) -> None:
    sandbox = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "examples",
        sandbox / "examples",
        ignore=shutil.ignore_patterns(".ccf", "__pycache__", "*.egg-info", ".pytest_cache"),
    )
    shutil.copy(ROOT / "pyproject.toml", sandbox / "pyproject.toml")
    runnable = [block for block in blocks(readme) if block.marker is None]
    assert runnable, f"{readme} has no shell block to run"
    for block in runnable:
        run_shell(block, sandbox, tools)


@pytest.mark.slow
def test_connector_package_of_the_readme_installs_tests_and_runs(
    tmp_path: Path, tools: dict[str, str]
) -> None:
    package = tmp_path / "package"
    files = [block for block in blocks(ROOT / "README.md") if block.marker == "file"]
    assert {block.value for block in files} >= {
        "pyproject.toml",
        "ccf_notes/connector.py",
        "ccf_notes/plugin.py",
    }
    for block in files:
        target = package / block.value
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.body, encoding="utf-8")
    site = tmp_path / "site"
    pip_install(package, site)
    env = {**tools, "PYTHONPATH": str(site)}
    outputs = [
        run_shell(block, package, env) for block in blocks(ROOT / "README.md") if block.marker == "cwd"
    ]
    assert outputs, "README.md has no <!-- cwd: package --> block that runs the package"
    text = "\n".join(outputs)
    # The README's own connector ran (its name and description), not the example.
    assert "Markdown files of a folder" in text
    assert "notes (full sync to local): succeeded" in text
