"""Finding the connector a run asks for among the installed plugins, and listing them all."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from ccf_core.errors import CCFError, ConnectorNotFoundError
from ccf_core.plugins import CCFPluginManager, connector_registry, get_plugin_manager
from ccf_core.registry import ConnectorInfo, ConnectorRegistry
from ccf_runner import exit_codes
from ccf_runner.errors import RunnerError
from ccf_runner.render import plain_table

#: The columns of the installed-connectors listing.
CONNECTOR_HEADERS = ("NAME", "DISTRIBUTION", "VERSION", "SYNC MODE", "DESCRIPTION")


@dataclass(frozen=True)
class Installed:
    """What is installed: the registered connectors and the plugins that failed to load."""

    connectors: list[ConnectorInfo]
    load_errors: dict[str, str]

    def connector_rows(self) -> list[tuple[str, str | None, str | None, str, str]]:
        """One row per connector, in :data:`CONNECTOR_HEADERS` order."""
        return [
            (
                info.name,
                info.distribution,
                info.version,
                info.sync_mode,
                info.connector_class.description or "",
            )
            for info in self.connectors
        ]

    def error_rows(self) -> list[tuple[str, str]]:
        """``(plugin, error)`` for every plugin that failed to load."""
        return sorted(self.load_errors.items())


def _registry(pm: CCFPluginManager) -> ConnectorRegistry:
    try:
        return connector_registry(pm)
    except CCFError as err:  # a plugin's registration hook raised, or two registered one name
        raise RunnerError(str(err), exit_codes.FAILED) from err


def installed() -> Installed:
    """Every installed connector and every plugin load error.

    Raises:
        RunnerError: when a plugin's registration hook fails (exit FAILED).
    """
    pm = get_plugin_manager()
    connectors = _registry(pm).all()  # first: a plugin whose registration fails becomes a load error
    errors = {name: str(error) for name, error in pm.load_errors().items()}
    return Installed(connectors, errors)


def find_connector(name: str) -> ConnectorInfo:
    """The installed connector called ``name``.

    Raises:
        RunnerError: with exit FAILED when the plugin of that name failed to load (its load error
            is the message), or exit CONNECTOR_NOT_FOUND, listing what is installed, when no plugin
            provides it.
    """
    pm = get_plugin_manager()
    registry = _registry(pm)  # first: a plugin whose registration fails becomes a load error
    plugin = pm.plugin_infos.get(name)
    if plugin is not None and plugin.error is not None:
        raise RunnerError(str(plugin.error), exit_codes.FAILED) from plugin.error
    try:
        return registry.get(name)
    except ConnectorNotFoundError:
        pass
    found = Installed(registry.all(), {n: str(e) for n, e in pm.load_errors().items()})
    guess = did_you_mean(name, [info.name for info in found.connectors])
    lines = [f"no connector named {name!r} is installed{guess}"]
    if found.connectors:
        lines += ["installed connectors:", plain_table(CONNECTOR_HEADERS, found.connector_rows())]
    else:
        lines.append("no connectors are installed: install a plugin such as ccf-connector-<name>")
    if found.load_errors:
        lines.append("plugins that failed to load:")
        lines += [f"  {plugin_name}: {error}" for plugin_name, error in found.error_rows()]
    raise RunnerError("\n".join(lines), exit_codes.CONNECTOR_NOT_FOUND)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` naming the closest candidates, or an empty string when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(candidate) for candidate in close) + "?"
