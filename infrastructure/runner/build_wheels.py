#!/usr/bin/env python3
"""Build the wheels of ccf-framework and connector plugins, optionally with every dependency.

One script serves the runner image's build stage, ``nox -s build`` and the test that installs the
result offline, so what the test proves is what the image installs. Usage (repository root)::

    python infrastructure/runner/build_wheels.py --out dist --all-plugins --with-dependencies
    python infrastructure/runner/build_wheels.py --out /wheels --with-dependencies webcrawler gitlab

A plugin is named by its folder under ``plugins/`` (the connector's name) or given as a path to a
project folder. Besides the wheels, ``--out`` receives ``requirements.txt``: the exact versions of
the distributions built here, so that the offline install is simply::

    pip install --no-index --find-links OUT -r OUT/requirements.txt
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DIR = ROOT / "plugins"
REQUIREMENTS = "requirements.txt"


class BuildError(Exception):
    """A plugin name that names no project, or a pip step that failed."""


def available_plugins(plugins_dir: Path = PLUGINS_DIR) -> list[str]:
    """The plugin folders under ``plugins_dir`` that hold a ``pyproject.toml``, sorted."""
    if not plugins_dir.is_dir():
        return []
    return sorted(path.parent.name for path in plugins_dir.glob("*/pyproject.toml"))


def resolve_projects(plugins: list[str], plugins_dir: Path = PLUGINS_DIR) -> list[Path]:
    """ccf-framework first, then each plugin's project folder.

    Raises:
        BuildError: a name is neither a folder under ``plugins_dir`` nor a project path.
    """
    projects = [ROOT]
    for plugin in plugins:
        candidate = Path(plugin)
        folder = candidate if candidate.is_absolute() or "/" in plugin else plugins_dir / plugin
        if not (folder / "pyproject.toml").is_file():
            known = ", ".join(available_plugins(plugins_dir)) or "none"
            raise BuildError(
                f"plugin {plugin!r}: no {folder / 'pyproject.toml'}; plugins in this tree: {known}"
            )
        projects.append(folder.resolve())
    return projects


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, check=False)  # noqa: S603 - pip with our own arguments
    if result.returncode != 0:
        raise BuildError(f"pip {args[0]} failed (exit {result.returncode}); its output is above")


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _distribution(wheel: Path) -> tuple[str, str]:
    """``(name, version)`` from a wheel's file name (``name-version-tags.whl``)."""
    name, version = wheel.name.split("-")[:2]
    return _normalise(name), version


def project_name(project: Path) -> str:
    """The distribution name a project folder's ``pyproject.toml`` declares (normalised)."""
    import tomllib

    declared = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return _normalise(declared["project"]["name"])


def build(projects: list[Path], out: Path, *, with_dependencies: bool) -> list[str]:
    """Build the projects' wheels into ``out`` (and their dependencies' if asked).

    Returns:
        The pinned requirements written to ``out/requirements.txt``.
    """
    out.mkdir(parents=True, exist_ok=True)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), *map(str, projects))
    wheels = {}
    for wheel in sorted(out.glob("*.whl"), key=lambda path: path.stat().st_mtime):
        wheels[_distribution(wheel)[0]] = wheel  # the newest build of each name wins
    ours = [wheels[project_name(project)] for project in projects]
    if with_dependencies:
        # The local wheels satisfy the plugins' ccf-framework requirement; the rest comes from
        # the index (or pip's cache) as wheels, so the install step needs no network.
        _pip("wheel", "--quiet", "--wheel-dir", str(out), "--find-links", str(out), *map(str, ours))
    pins = [f"{name}=={version}" for name, version in map(_distribution, ours)]
    (out / REQUIREMENTS).write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    return pins


def main(argv: list[str] | None = None) -> int:
    """Parse the options and build; a bad plugin name is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plugins", nargs="*", help="plugin folders under plugins/ (or project paths)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the wheels")
    parser.add_argument("--all-plugins", action="store_true", help="every plugin under plugins/")
    parser.add_argument(
        "--with-dependencies", action="store_true", help="also every dependency, for an offline install"
    )
    args = parser.parse_args(argv)
    names = [*available_plugins(), *args.plugins] if args.all_plugins else list(args.plugins)
    try:
        projects = resolve_projects(list(dict.fromkeys(names)))
        pins = build(projects, args.out, with_dependencies=args.with_dependencies)
    except BuildError as err:
        print(f"build_wheels: {err}", file=sys.stderr)
        return 2
    print("built: " + " ".join(pins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
