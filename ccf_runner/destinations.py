"""``ccf-run --destination NAME``: any destination a plugin registers, with settings like a connector's.

The built-in ``local`` and ``qbusiness`` destinations take their settings from ccf-run's own
options (``--index``, ``--qbusiness-*``). A destination from a plugin takes them from
``--destination-config FILE``, then ``CCF_DESTINATION_<NAME>_<FIELD>`` environment variables, then
``--destination-set KEY=VALUE``, exactly as a connector's come from ``--config``,
``CCF_<CONNECTOR>_<FIELD>`` and ``--set``; they are validated by the model the plugin registered
(or read off its factory's keyword parameters).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ccf_core.connector import validation_problems
from ccf_core.errors import CCFError, DestinationNotFoundError
from ccf_core.plugins import destination_registry, get_plugin_manager
from ccf_core.registry import DestinationInfo
from ccf_runner.discovery import did_you_mean
from ccf_runner.errors import BadConfiguration, RunnerError
from ccf_runner.logs import register_secret
from ccf_runner.schema import ConfigField, config_schema, raw_secret_values, secret_values
from ccf_runner.settings import build_config, env_prefix, unknown_env_variables
from ccf_runner.targets import DestinationChoice, choose_destination

#: Destinations whose settings are ccf-run's own options rather than --destination-set.
BUILT_IN = {
    "local": "--index PATH",
    "qbusiness": "--qbusiness-app-id, --qbusiness-index-id, --qbusiness-data-source-id, "
    "--qbusiness-endpoint-url, --s3-bucket, --role-arn, --max-in-flight (or their environment variables)",
}

#: The columns of the destinations listing.
DESTINATION_HEADERS = ("NAME", "PLUGIN", "DESCRIPTION")


@dataclass(frozen=True)
class DestinationRequest:
    """What ``ccf-run`` was asked about the destination."""

    name: str | None
    index: str
    qbusiness_ids: tuple[str | None, str | None, str | None]
    qbusiness_options: dict[str, Any]
    config_file: Path | None = None
    assignments: tuple[str, ...] = ()


def settings_key(name: str) -> str:
    """The word a destination's settings use in place of a connector's name (its env prefix)."""
    return f"destination-{name}"


def installed_destinations() -> list[DestinationInfo]:
    """Every registered destination, sorted by name."""
    try:
        return destination_registry().all()
    except CCFError as err:
        raise RunnerError(str(err)) from err


def destination_rows() -> list[tuple[str, str, str]]:
    """One row per destination, in :data:`DESTINATION_HEADERS` order."""
    return [(info.name, info.plugin, info.description) for info in installed_destinations()]


def find_destination(name: str) -> DestinationInfo:
    """The registered destination ``name``.

    Raises:
        RunnerError: with exit BAD_CONFIGURATION, naming the destinations there are and the closest one.
    """
    pm = get_plugin_manager()
    registry = destination_registry(pm)
    plugin = pm.plugin_infos.get(name)
    if plugin is not None and plugin.error is not None:
        raise RunnerError(str(plugin.error)) from plugin.error
    try:
        return registry.get(name)
    except DestinationNotFoundError:
        known = [info.name for info in registry.all()]
        raise BadConfiguration(
            f"--destination {name}: no destination of that name is registered{did_you_mean(name, known)} "
            f"(registered: {', '.join(known) or 'none'}; see ccf-run --list)"
        ) from None


def choose(request: DestinationRequest) -> DestinationChoice:
    """The destination to create: the one named, or by default Q Business with its ids, else local.

    Raises:
        BadConfiguration: for an unknown destination, settings it does not take, or settings for
            a built-in destination given with ``--destination-set`` / ``--destination-config``.
    """
    name = request.name
    plugin_settings = bool(request.assignments or request.config_file)
    if name is None or name in BUILT_IN:
        if plugin_settings:
            where = f"destination {name!r}" if name else "the default destination"
            raise BadConfiguration(
                f"--destination-set/--destination-config are for a plugin's destination; {where} takes "
                f"{BUILT_IN.get(name or 'local')}" + ("" if name else " (or give --destination NAME)")
            )
        if name == "local":
            return choose_destination(request.index)
        if name == "qbusiness" and not any(request.qbusiness_ids):
            raise BadConfiguration(
                "--destination qbusiness needs --qbusiness-app-id, --qbusiness-index-id and "
                "--qbusiness-data-source-id (or Q_BUSINESS_APP_ID, Q_BUSINESS_INDEX_ID and "
                "Q_BUSINESS_DATA_SOURCE_ID)"
            )
        return choose_destination(request.index, *request.qbusiness_ids, extra=request.qbusiness_options)
    info = find_destination(name)
    options = settings(info, request.config_file, request.assignments)
    return DestinationChoice(name, f"destination {name} (plugin {info.plugin})", options)


def settings(
    info: DestinationInfo, config_file: Path | None, assignments: Sequence[str], environ: Any = None
) -> dict[str, Any]:
    """A plugin destination's validated settings, as the keyword arguments of its factory.

    Raises:
        BadConfiguration: listing each invalid setting (``field: problem``) and where to look.
    """
    model = info.settings_model()
    key = settings_key(info.name)
    environ = os.environ if environ is None else environ
    for warning in unknown_env_variables(key, model, environ):
        if model.model_config.get("extra") != "allow":
            _warn(warning)
    raw = build_config(key, model, config_file=config_file, assignments=assignments, environ=environ)
    for secret in raw_secret_values(model, raw):
        register_secret(secret)
    try:
        validated = model.model_validate(raw)
    except ValidationError as err:
        lines = "\n".join(f"{field}: {problem}" for field, problem in validation_problems(err))
        raise BadConfiguration(
            f"invalid settings for destination {info.name!r}:\n{lines}\n"
            f"(see ccf-run --show-config {info.name})"
        ) from None
    for secret in secret_values(validated):
        register_secret(secret)
    options = {name: getattr(validated, name) for name in type(validated).model_fields}
    options.update(validated.model_extra or {})
    return options


def _warn(message: str) -> None:
    import logging

    from ccf_runner.logs import RUNNER_LOGGER

    logging.getLogger(RUNNER_LOGGER).warning("%s", message)


def schema(info: DestinationInfo) -> list[ConfigField]:
    """The settings of a plugin destination, as ``--show-config`` lists them."""
    return config_schema(settings_key(info.name), info.settings_model())


def settings_prefix(name: str) -> str:
    """``CCF_DESTINATION_<NAME>_``: the prefix of a destination's environment variables."""
    return env_prefix(settings_key(name))


def takes_any_setting(model: type[BaseModel]) -> bool:
    """True when the factory takes ``**options``: settings beyond the listed ones are passed on."""
    return model.model_config.get("extra") == "allow"
