"""Finding and loading plugins through the ``ccf`` entry-point group.

Each entry point is loaded on its own: one that fails to import is recorded and skipped, so a
broken plugin never takes the others down. ``CCF_LOAD_PLUGINS`` (a comma-separated allow-list of
entry-point names) and ``CCF_DISABLE_PLUGINS`` (a block-list) choose what loads. Nothing is loaded
at import time: :func:`get_plugin_manager` builds the manager on first use and caches it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from ccf_core import hookspecs
from ccf_core.errors import PluginLoadError
from ccf_core.hookspecs import PROJECT_NAME
from ccf_core.registry import ConnectorRegistry, DestinationRegistry

logger = logging.getLogger(__name__)

#: The name the built-in plugin is registered under.
BUILTIN_PLUGIN = "ccf-builtins"


@dataclass(frozen=True)
class PluginInfo:
    """An entry point of the ``ccf`` group and how loading it went."""

    name: str
    value: str
    distribution: str | None
    version: str | None
    error: PluginLoadError | None = None

    @property
    def loaded(self) -> bool:
        """True when the plugin imported and registered."""
        return self.error is None


class CCFPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers every entry point it saw and how loading went."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.plugin_infos: dict[str, PluginInfo] = {}

    def load_errors(self) -> dict[str, PluginLoadError]:
        """Entry points that failed to load, by name."""
        return {name: info.error for name, info in self.plugin_infos.items() if info.error is not None}


def _names_from_env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _distribution(entry_point: EntryPoint) -> tuple[str | None, str | None]:
    dist = entry_point.dist
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _load_entry_points(pm: CCFPluginManager) -> None:
    allowed = _names_from_env("CCF_LOAD_PLUGINS")
    disabled = _names_from_env("CCF_DISABLE_PLUGINS") or set()
    for entry_point in entry_points(group=PROJECT_NAME):
        name = entry_point.name
        if (allowed is not None and name not in allowed) or name in disabled:
            logger.debug("plugin %s not loaded (CCF_LOAD_PLUGINS/CCF_DISABLE_PLUGINS)", name)
            continue
        if name in pm.plugin_infos:
            continue
        dist, version = _distribution(entry_point)
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=name)
        except Exception as err:  # a broken plugin must not take the others down
            _record_failure(pm, PluginInfo(name, entry_point.value, dist, version), err)
            continue
        try:
            # Every plugin before this one passed, so a hook without a spec (a misspelled
            # ccf_* name) is this plugin's: it alone is unloaded and reported.
            pm.check_pending()
        except Exception as err:
            pm.unregister(name=name)
            _record_failure(pm, PluginInfo(name, entry_point.value, dist, version), err)
            continue
        pm.plugin_infos[name] = PluginInfo(name, entry_point.value, dist, version)


def _record_failure(pm: CCFPluginManager, info: PluginInfo, cause: BaseException) -> None:
    error = PluginLoadError(info.name, cause)
    logger.warning("%s", error)
    pm.plugin_infos[info.name] = dataclasses.replace(info, error=error)


@cache
def get_plugin_manager() -> CCFPluginManager:
    """The process's plugin manager: built-ins plus every allowed entry point, loaded once."""
    from ccf_core import builtins

    pm = CCFPluginManager()
    pm.register(builtins, name=BUILTIN_PLUGIN)
    _load_entry_points(pm)
    pm.check_pending()
    return pm


def reset_plugin_manager() -> None:
    """Forget the cached plugin manager (tests use this to start from a clean slate)."""
    get_plugin_manager.cache_clear()


@contextmanager
def registered_plugin(plugin: object, name: str | None = None) -> Iterator[CCFPluginManager]:
    """Register ``plugin`` for the duration of a ``with`` block, then unregister it."""
    pm = get_plugin_manager()
    registered_name = pm.register(plugin, name=name)
    try:
        pm.check_pending()
        yield pm
    finally:
        pm.unregister(name=registered_name)


def _call_per_plugin(
    pm: CCFPluginManager, hook_name: str, registry: ConnectorRegistry | DestinationRegistry
) -> None:
    """Call a registration hook plugin by plugin, so the registry knows who registered what.

    A plugin whose hook raises (or registers a name another plugin took) is reported like a
    plugin that failed to import, and the others still register.
    """
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        registry.current_plugin = impl.plugin_name
        info = pm.plugin_infos.get(impl.plugin_name)
        if isinstance(registry, ConnectorRegistry):
            registry.current_distribution = (info.distribution, info.version) if info else (None, None)
        kwargs: dict[str, Any] = {"registry": registry}
        try:
            impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as err:
            if info is None:  # not from an entry point (a test's or the built-ins): nothing to isolate
                raise
            registry.forget_plugin(impl.plugin_name)
            pm.unregister(name=impl.plugin_name)
            _record_failure(pm, info, err)


def connector_registry(pm: CCFPluginManager | None = None) -> ConnectorRegistry:
    """Every connector registered by the loaded plugins."""
    registry = ConnectorRegistry()
    _call_per_plugin(pm or get_plugin_manager(), "ccf_register_connectors", registry)
    return registry


def destination_registry(pm: CCFPluginManager | None = None) -> DestinationRegistry:
    """Every destination registered by the loaded plugins (the built-in ``local`` among them)."""
    registry = DestinationRegistry()
    _call_per_plugin(pm or get_plugin_manager(), "ccf_register_destinations", registry)
    return registry
