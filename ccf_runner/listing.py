"""``ccf-run --list`` and ``ccf-run --show-config NAME``: what is installed and what it takes."""

from __future__ import annotations

from typing import Any

import click

from ccf_core.plugins import get_plugin_manager
from ccf_runner import destinations, exit_codes
from ccf_runner.discovery import CONNECTOR_HEADERS, find_connector, installed
from ccf_runner.errors import RunnerError
from ccf_runner.render import print_table
from ccf_runner.schema import ConfigField, config_schema
from ccf_runner.settings import LISTS_AND_MAPS_HELP, env_prefix

_SETTINGS_HEADERS = ("FIELD", "TYPE", "DEFAULT", "ENVIRONMENT", "DESCRIPTION")


def print_installed() -> None:
    """The installed connectors, the registered destinations and the plugins that failed to load."""
    found = installed()
    if found.connectors:
        print_table(CONNECTOR_HEADERS, found.connector_rows(), title="Installed connectors")
    else:
        click.echo("No connectors are installed: install a plugin such as ccf-connector-<name>.")
    click.echo()
    print_table(
        destinations.DESTINATION_HEADERS,
        destinations.destination_rows(),
        title="Destinations (ccf-run --destination NAME)",
    )
    # Read after both registrations: a plugin whose registration failed is a load error now.
    errors = get_plugin_manager().load_errors()
    if errors:
        click.echo()
        rows = sorted((plugin, str(error)) for plugin, error in errors.items())
        print_table(("PLUGIN", "ERROR"), rows, title="Plugins that failed to load")


def print_config(name: str) -> None:
    """The settings of connector ``name``, or of destination ``name`` when no connector has that name."""
    try:
        info = find_connector(name)
    except RunnerError as err:
        if err.exit_code != exit_codes.CONNECTOR_NOT_FOUND or name not in {
            d.name for d in destinations.installed_destinations()
        }:
            raise
        _print_destination_config(name)
        return
    connector_class = info.connector_class
    about = f": {connector_class.description}" if connector_class.description else ""
    click.echo(f"{name} ({info.sync_mode} sync){about}")
    click.echo(
        f"Settings, from --config FILE, then {env_prefix(name)}<FIELD> environment variables, "
        "then --set FIELD=VALUE:"
    )
    _print_settings(config_schema(name, connector_class.Config), "this connector takes no settings")


def _print_destination_config(name: str) -> None:
    info = destinations.find_destination(name)
    about = f": {info.description}" if info.description else ""
    click.echo(f"destination {name} (plugin {info.plugin}){about}")
    if name in destinations.BUILT_IN:
        click.echo(f"Settings, from ccf-run's own options: {destinations.BUILT_IN[name]}")
        return
    click.echo(
        f"Settings, from --destination-config FILE, then {destinations.settings_prefix(name)}<FIELD> "
        "environment variables, then --destination-set FIELD=VALUE:"
    )
    _print_settings(destinations.schema(info), "this destination takes no settings")
    if destinations.takes_any_setting(info.settings_model()):
        click.echo("Other settings are passed to the destination as they are.")


def _print_settings(fields: list[ConfigField], none: str) -> None:
    rows: list[tuple[Any, ...]] = [
        (
            field.name,
            f"{field.type} (secret)" if field.secret else field.type,
            field.default,
            field.env,
            field.description,
        )
        for field in fields
    ]
    if rows:
        print_table(_SETTINGS_HEADERS, rows)
        click.echo(LISTS_AND_MAPS_HELP)
    else:
        click.echo(f"  ({none})")
