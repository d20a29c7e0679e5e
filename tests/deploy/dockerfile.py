"""Small readers for the runner image's Dockerfile and its .dockerignore (no Docker daemon needed)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "infrastructure" / "runner"
DOCKERFILE = RUNNER / "Dockerfile"
DOCKERIGNORE = RUNNER / "Dockerfile.dockerignore"


@dataclass
class Stage:
    """One ``FROM`` stage: its base, name and instructions as ``(KEYWORD, arguments)``."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        """The arguments of the stage's last ``keyword`` instruction, if any."""
        found = [arguments for name, arguments in self.instructions if name == keyword]
        return found[-1] if found else None


@dataclass
class Dockerfile:
    """The global ``ARG`` defaults and the stages, in order."""

    args: dict[str, str]
    stages: list[Stage]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    """Parse the instructions the tests look at (enough for this Dockerfile, not every Dockerfile)."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arguments.strip(), flags=re.IGNORECASE)
            assert match, f"unreadable FROM: {line}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append(Stage(base=base, name=match.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = arguments.partition("=")
            args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append((keyword, arguments.strip()))
    return Dockerfile(args=args, stages=stages)


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form ``ENTRYPOINT``/``CMD`` (shell form fails the test)."""
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form: {arguments}"
    return [str(item) for item in value]


def _matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches the path or one of its parent folders."""
    regex = fnmatch.translate(pattern.rstrip("/")).replace(".*", "[^/]*")
    regex = regex.replace("[^/]*[^/]*/", "(?:.*/)?").replace("[^/]*[^/]*", ".*")  # ** spans folders
    parts = path.split("/")
    return any(re.match(regex, "/".join(parts[:end])) for end in range(1, len(parts) + 1))


def context_files(root: Path = ROOT, ignore: Path = DOCKERIGNORE) -> list[str]:
    """The files of ``root`` that the .dockerignore lets into the build context (last match wins)."""
    patterns = [
        line.strip()
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    kept = []
    for folder, subfolders, files in os.walk(root):
        # Only for speed: these hold thousands of files and every pattern set here excludes them.
        subfolders[:] = [name for name in subfolders if name not in _NEVER_IN_CONTEXT]
        for name in files:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            included = True
            for pattern in patterns:
                if _matches(pattern.removeprefix("!"), relative):
                    included = pattern.startswith("!")
            if included:
                kept.append(relative)
    return sorted(kept)


_NEVER_IN_CONTEXT = {".git", ".venv", ".nox", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
