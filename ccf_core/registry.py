"""Registries handed to the ``ccf_register_*`` hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccf_core.errors import CCFError, ConnectorNotFoundError, DestinationNotFoundError

if TYPE_CHECKING:
    from ccf_core.connector import Connector
    from ccf_core.ports import Destination


@dataclass(frozen=True)
class ConnectorInfo:
    """A registered connector and the plugin that provided it."""

    name: str
    connector_class: type[Connector]
    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def sync_mode(self) -> str:
        """``full`` or ``incremental``."""
        return self.connector_class.sync_mode.value


class ConnectorRegistry:
    """Connector classes by name."""

    def __init__(self) -> None:
        self._connectors: dict[str, ConnectorInfo] = {}
        self.current_plugin = "unknown"
        self.current_distribution: tuple[str | None, str | None] = (None, None)

    def register(self, connector_class: type[Connector]) -> None:
        """Register a connector class under its ``name``."""
        name = getattr(connector_class, "name", "")
        if not isinstance(name, str) or not name:
            raise CCFError(f"{connector_class.__qualname__} has no 'name'; set name = '...' on the class")
        existing = self._connectors.get(name)
        if existing is not None and existing.connector_class is not connector_class:
            raise CCFError(
                f"connector {name!r} is registered twice: by plugin {existing.plugin!r} "
                f"and by plugin {self.current_plugin!r}"
            )
        dist, version = self.current_distribution
        self._connectors[name] = ConnectorInfo(name, connector_class, self.current_plugin, dist, version)

    def get(self, name: str) -> ConnectorInfo:
        """The connector registered as ``name``, or :class:`ConnectorNotFoundError`."""
        try:
            return self._connectors[name]
        except KeyError:
            raise ConnectorNotFoundError(name, list(self._connectors)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._connectors

    def all(self) -> list[ConnectorInfo]:
        """Every registered connector, sorted by name."""
        return [self._connectors[name] for name in sorted(self._connectors)]


@dataclass(frozen=True)
class DestinationInfo:
    """A registered destination factory."""

    name: str
    factory: Callable[..., Destination]
    description: str
    plugin: str


class DestinationRegistry:
    """Destination factories by name."""

    def __init__(self) -> None:
        self._destinations: dict[str, DestinationInfo] = {}
        self.current_plugin = "unknown"

    def register(self, name: str, factory: Callable[..., Destination], *, description: str = "") -> None:
        """Register ``factory`` (called with keyword options, returns a Destination) as ``name``."""
        if name in self._destinations:
            raise CCFError(
                f"destination {name!r} is registered twice: by plugin "
                f"{self._destinations[name].plugin!r} and by plugin {self.current_plugin!r}"
            )
        self._destinations[name] = DestinationInfo(name, factory, description, self.current_plugin)

    def create(self, name: str, **options: Any) -> Destination:
        """Build the destination registered as ``name``."""
        try:
            info = self._destinations[name]
        except KeyError:
            known = ", ".join(sorted(self._destinations)) or "none"
            raise DestinationNotFoundError(
                f"no destination named {name!r} is registered (registered: {known})"
            ) from None
        return info.factory(**options)

    def __contains__(self, name: object) -> bool:
        return name in self._destinations

    def all(self) -> list[DestinationInfo]:
        """Every registered destination, sorted by name."""
        return [self._destinations[name] for name in sorted(self._destinations)]
