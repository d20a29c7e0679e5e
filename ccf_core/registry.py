"""Registries handed to the ``ccf_register_*`` hooks."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccf_core.errors import CCFError, ConnectorNotFoundError, DestinationNotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ccf_core.connector import Connector
    from ccf_core.ports import Destination

#: What a connector's name may look like: it is also an entry-point name and a command-line word.
CONNECTOR_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


class ConnectorClassError(CCFError):
    """A plugin registered something that is not a usable connector class; the message says why."""


def connector_class_problems(connector_class: object) -> list[str]:
    """Every reason ``connector_class`` cannot be registered (empty when it can).

    Checks that it is a :class:`~ccf_core.connector.Connector` subclass with a valid ``name``, a
    pydantic ``Config`` model, a ``sync_mode`` that :class:`~ccf_core.connector.SyncMode` accepts
    (``"full"`` as a plain string is fine) and its own ``documents`` method.
    """
    from pydantic import BaseModel

    from ccf_core.connector import Connector, SyncMode

    if not (isinstance(connector_class, type) and issubclass(connector_class, Connector)):
        shown = getattr(connector_class, "__qualname__", repr(connector_class))
        return [f"{shown} is not a subclass of ccf_core.Connector"]
    problems: list[str] = []
    name = getattr(connector_class, "name", "")
    if not isinstance(name, str) or not name:
        problems.append("it has no 'name'; set name = '...' on the class")
    elif not CONNECTOR_NAME_PATTERN.match(name):
        problems.append(f"name {name!r} must be a lowercase word ([a-z0-9][a-z0-9_-]*)")
    config = getattr(connector_class, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        problems.append("Config must be a pydantic model class (class MyConfig(BaseModel): ...)")
    try:
        SyncMode(connector_class.sync_mode)
    except ValueError:
        allowed = ", ".join(repr(mode.value) for mode in SyncMode)
        problems.append(
            f"sync_mode {connector_class.sync_mode!r} is not one of {allowed} (use SyncMode.FULL)"
        )
    if connector_class.documents is Connector.documents or inspect.isabstract(connector_class):
        problems.append("it does not implement documents(self, context)")
    return problems


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
        """Register a connector class under its ``name``.

        The class is checked first (see :func:`connector_class_problems`); a ``sync_mode`` given as
        a plain string is turned into its :class:`~ccf_core.connector.SyncMode` on the class.

        Raises:
            ConnectorClassError: naming the class and every problem found; the plugin loader
                reports it as that plugin's load error, and the other plugins still register.
        """
        from ccf_core.connector import SyncMode

        problems = connector_class_problems(connector_class)
        if problems:
            shown = getattr(connector_class, "__qualname__", repr(connector_class))
            raise ConnectorClassError(f"connector class {shown} cannot be registered: " + "; ".join(problems))
        connector_class.sync_mode = SyncMode(connector_class.sync_mode)
        name = connector_class.name
        existing = self._connectors.get(name)
        if existing is not None and existing.connector_class is not connector_class:
            raise CCFError(
                f"connector {name!r} is registered twice: by plugin {existing.plugin!r} "
                f"and by plugin {self.current_plugin!r}"
            )
        dist, version = self.current_distribution
        self._connectors[name] = ConnectorInfo(name, connector_class, self.current_plugin, dist, version)

    def forget_plugin(self, plugin: str) -> None:
        """Drop every connector ``plugin`` registered (its registration hook failed part-way)."""
        self._connectors = {name: info for name, info in self._connectors.items() if info.plugin != plugin}

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
    """A registered destination factory and, if given, the pydantic model of its settings."""

    name: str
    factory: Callable[..., Destination]
    description: str
    plugin: str
    config: type[BaseModel] | None = None

    def settings_model(self) -> type[BaseModel]:
        """The model of the destination's settings: ``config`` if given, else read off the factory.

        From the factory, every keyword parameter becomes a field with its annotation and
        default (a ``**options`` factory takes any other setting too).
        """
        if self.config is not None:
            return self.config
        return _model_from_signature(self.name, self.factory)


def _model_from_signature(name: str, factory: Callable[..., Any]) -> type[BaseModel]:
    from pydantic import ConfigDict, create_model

    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # annotations that cannot be resolved here: the fields take any value
        hints = {}
    fields: dict[str, Any] = {}
    extra: typing.Literal["allow", "forbid"] = "forbid"
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    model: type[BaseModel] = create_model(
        f"{name.title().replace('-', '')}Settings", __config__=ConfigDict(extra=extra), **fields
    )
    return model


class DestinationRegistry:
    """Destination factories by name."""

    def __init__(self) -> None:
        self._destinations: dict[str, DestinationInfo] = {}
        self.current_plugin = "unknown"

    def register(
        self,
        name: str,
        factory: Callable[..., Destination],
        *,
        description: str = "",
        config: type[BaseModel] | None = None,
    ) -> None:
        """Register ``factory`` (called with keyword options, returns a Destination) as ``name``.

        Args:
            name: what users pass to ``ccf-run --destination``.
            factory: builds the destination from keyword settings.
            description: one line for ``ccf-run --list``.
            config: a pydantic model of the settings (``ccf-run --show-config NAME`` describes
                it; the runner validates the settings with it and passes its fields to
                ``factory``). Without one, the factory's keyword parameters are the settings.
        """
        if name in self._destinations:
            raise CCFError(
                f"destination {name!r} is registered twice: by plugin "
                f"{self._destinations[name].plugin!r} and by plugin {self.current_plugin!r}"
            )
        import pydantic

        if config is not None and not (isinstance(config, type) and issubclass(config, pydantic.BaseModel)):
            raise CCFError(f"destination {name!r}: config must be a pydantic model class")
        self._destinations[name] = DestinationInfo(name, factory, description, self.current_plugin, config)

    def forget_plugin(self, plugin: str) -> None:
        """Drop every destination ``plugin`` registered (its registration hook failed part-way)."""
        self._destinations = {
            name: info for name, info in self._destinations.items() if info.plugin != plugin
        }

    def create(self, name: str, **options: Any) -> Destination:
        """Build the destination registered as ``name``."""
        return self.get(name).factory(**options)

    def __contains__(self, name: object) -> bool:
        return name in self._destinations

    def get(self, name: str) -> DestinationInfo:
        """The destination registered as ``name``, or :class:`DestinationNotFoundError`."""
        try:
            return self._destinations[name]
        except KeyError:
            known = ", ".join(sorted(self._destinations)) or "none"
            raise DestinationNotFoundError(
                f"no destination named {name!r} is registered (registered: {known})"
            ) from None

    def all(self) -> list[DestinationInfo]:
        """Every registered destination, sorted by name."""
        return [self._destinations[name] for name in sorted(self._destinations)]
